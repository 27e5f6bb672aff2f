package io.egressd.e2e;

/** What the e2e tests share around a daemon: the common head of egressd.yaml and the teardown. */
final class Fixture {

    private Fixture() {
    }

    /**
     * egressd.yaml with allowlists/, the http, dns and admin listeners on free loopback ports and
     * {@code dnsUpstream} as the upstream resolver; {@code rest} follows it (lines indented by two
     * spaces continue the {@code dns:} block, such as {@code timeout: 2s}), so each test shows only
     * what it changes.
     */
    static String config(String dnsUpstream, String rest) {
        return """
                allowlists: allowlists
                listen:
                  http: 127.0.0.1:0
                  dns: 127.0.0.1:0
                  admin: 127.0.0.1:0
                dns:
                  upstreams: ["%s"]
                """.formatted(dnsUpstream) + rest;
    }

    /**
     * Closes each in order (the daemon before the upstreams it uses), skipping nulls (a setup that
     * failed part way); every one is tried, the first failure is thrown with the others suppressed.
     */
    static void close(AutoCloseable... all) throws Exception {
        Exception first = null;
        for (AutoCloseable c : all) {
            if (c == null) {
                continue;
            }
            try {
                c.close();
            } catch (Exception e) {
                if (first == null) {
                    first = e;
                } else {
                    first.addSuppressed(e);
                }
            }
        }
        if (first != null) {
            throw first;
        }
    }
}
