import java.io.IOException;
import java.io.InputStream;
import java.net.HttpURLConnection;
import java.net.Proxy;
import java.net.URI;

/**
 * The image's HEALTHCHECK: {@code java -cp /opt/egressd/healthcheck Healthcheck [URL]}.
 *
 * <p>Exits 0 when a GET of URL (default {@code http://127.0.0.1:9464/healthz}, egressd's admin
 * listener) answers 200 within 2 s to connect and 2 s to read; otherwise prints why on stderr
 * and exits 1. Docker treats exit 0 as healthy and 1 as unhealthy.
 *
 * <p>It exists because the image must not depend on curl or wget being in the JRE base image:
 * the JRE is the one program the image is sure to have. Compiled in the image's build stage
 * ({@code javac --release 17}); it never goes through a proxy.
 */
public final class Healthcheck {

    private Healthcheck() {
    }

    public static void main(String[] args) {
        String url = args.length > 0 ? args[0] : "http://127.0.0.1:9464/healthz";
        int status;
        try {
            HttpURLConnection c = (HttpURLConnection) URI.create(url).toURL().openConnection(Proxy.NO_PROXY);
            c.setConnectTimeout(2000);
            c.setReadTimeout(2000);
            c.setUseCaches(false);
            status = c.getResponseCode();
            InputStream body = status >= 400 ? c.getErrorStream() : c.getInputStream();
            if (body != null) {
                body.readAllBytes();
                body.close();
            }
        } catch (IOException | IllegalArgumentException e) {
            System.err.println("healthcheck: " + url + ": " + e);
            System.exit(1);
            return;
        }
        if (status != 200) {
            System.err.println("healthcheck: " + url + " answered " + status);
            System.exit(1);
        }
        System.exit(0);
    }
}
