package io.egressd.policy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/** {@link Destination#parseAuthority}: the one reader of {@code host:port} for CONNECT, SOCKS5 and the CLI. */
class DestinationTest {

    @ParameterizedTest(name = "{0} -> {1} port {2}")
    @CsvSource(delimiter = '|', value = {
        "slack.com:443               | slack.com               | 443",
        "slack.com:1                 | slack.com               | 1",
        "slack.com:65535             | slack.com               | 65535",
        "SLACK.COM.:8443             | SLACK.COM.              | 8443",
        "192.0.2.1:80                | 192.0.2.1               | 80",
        "[2001:db8::1]:443           | [2001:db8::1]           | 443",
        "[::ffff:127.0.0.1]:443      | [::ffff:127.0.0.1]      | 443",
        // The host part is kept as written; the policy decides whether it is a host at all.
        "user@slack.com:443          | user@slack.com          | 443",
        "slack%2ecom:443             | slack%2ecom             | 443",
        "[fe80::1%25eth0]:443        | [fe80::1%25eth0]        | 443",
    })
    void readsHostAndPort(String authority, String host, int port) throws InvalidHostException {
        Destination d = Destination.parseAuthority(authority);
        assertThat(d.host()).isEqualTo(host);
        assertThat(d.port()).isEqualTo(port);
        assertThat(Destination.parseAuthority(d.toString())).isEqualTo(d);
    }

    @ParameterizedTest(name = "[{index}] {0}")
    @ValueSource(strings = {
        "",
        "slack.com",                // the port is required
        "slack.com:",
        ":443",
        ":",
        "slack.com:0",
        "slack.com:00443",
        "slack.com:0443",
        "slack.com:65536",
        "slack.com:99999",
        "slack.com:100000",
        "slack.com:4294967739",     // 2^32 + 443: overflows to 443 in a careless parser
        "slack.com:-1",
        "slack.com:-443",
        "slack.com:+443",
        "slack.com: 443",
        "slack.com:443 ",
        "slack.com:4 43",
        "slack.com:0x1bb",
        "slack.com:1bb",
        "slack.com:443.0",
        "slack.com:1e3",
        "slack.com:\uFF14\uFF14\uFF13",  // fullwidth digits
        "slack.com:\u0664\u0664\u0663",  // Arabic-Indic digits, which Character.isDigit accepts
        "slack.com:443:443",
        "user:pass@slack.com:443",
        "::1:443",
        "2001:db8::1:443",
        "[::1]",                    // required port
        "[::1]:",
        "[::1]443",
        "[::1]]:443",
        "[::1:443",
        "[]:443",
        "[::1]:0443",
        "[::1]:65536",
    })
    void rejectsMalformedAuthorities(String authority) {
        assertThatThrownBy(() -> Destination.parseAuthority(authority)).isInstanceOf(InvalidHostException.class)
                .hasMessageNotContaining("\n");
    }

    @Test
    void aMissingPortMeansTheDefaultOnlyWhenOneIsGiven() throws InvalidHostException {
        assertThat(Destination.parseAuthority("slack.com", 443)).isEqualTo(new Destination("slack.com", 443));
        assertThat(Destination.parseAuthority("[::1]", 80)).isEqualTo(new Destination("[::1]", 80));
        assertThat(Destination.parseAuthority("slack.com:8443", 443)).isEqualTo(new Destination("slack.com", 8443));
        assertThatThrownBy(() -> Destination.parseAuthority("slack.com:", 443)).isInstanceOf(InvalidHostException.class);
        assertThatThrownBy(() -> Destination.parseAuthority("slack.com:0443", 443))
                .isInstanceOf(InvalidHostException.class).hasMessageContaining("leading zero");
        assertThatThrownBy(() -> Destination.parseAuthority("slack.com", 0)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void messagesSayWhatIsWrong() {
        assertThatThrownBy(() -> Destination.parseAuthority("slack.com")).hasMessageContaining("no port");
        assertThatThrownBy(() -> Destination.parseAuthority("slack.com:65536")).hasMessageContaining("65535");
        assertThatThrownBy(() -> Destination.parseAuthority("::1:443")).hasMessageContaining("brackets");
        assertThatThrownBy(() -> Destination.parseAuthority("slack.com:\u0000")).hasMessageContaining("\\u0000");
    }

    @ParameterizedTest
    @CsvSource({"1, 1", "443, 443", "65535, 65535"})
    void parsesPorts(String text, int port) throws InvalidHostException {
        assertThat(Destination.parsePort(text)).isEqualTo(port);
    }

    @Test
    void theRecordRefusesWhatTheParserRefuses() {
        assertThatThrownBy(() -> new Destination("slack.com", 0)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new Destination("slack.com", 65536)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new Destination("", 443)).isInstanceOf(IllegalArgumentException.class);
    }
}
