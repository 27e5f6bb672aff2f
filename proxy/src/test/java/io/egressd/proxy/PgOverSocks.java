package io.egressd.proxy;

import java.net.Authenticator;
import java.net.PasswordAuthentication;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;

/**
 * Runs in its own JVM (the SOCKS settings are JVM-wide system properties): opens a pgjdbc
 * connection to {@code args[0]} with {@code -DsocksProxyHost/-DsocksProxyPort} set by the test,
 * answering the SOCKS5 username/password request from {@code egressd.socks.user/password},
 * runs {@code args[1]} and prints {@code result=<first column>}.
 */
public final class PgOverSocks {

    private PgOverSocks() {
    }

    public static void main(String[] args) throws SQLException {
        String user = System.getProperty("egressd.socks.user");
        String password = System.getProperty("egressd.socks.password");
        if (user != null) {
            // The JDK's SOCKS client asks the default Authenticator when the proxy picks username/password.
            Authenticator.setDefault(new Authenticator() {
                @Override
                protected PasswordAuthentication getPasswordAuthentication() {
                    return new PasswordAuthentication(user, password.toCharArray());
                }
            });
        }
        try (Connection c = DriverManager.getConnection(args[0]);
             Statement s = c.createStatement();
             ResultSet rs = s.executeQuery(args[1])) {
            rs.next();
            System.out.println("result=" + rs.getString(1));
        }
    }
}
