package io.egressd.admin;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;

/**
 * The admin listener (default 127.0.0.1:9464): {@code /metrics} (Prometheus text format),
 * {@code /healthz} (200 while the process runs), {@code /readyz} (200 only when
 * {@link Readiness} says so, else 503 naming what it waits for). GET and HEAD only.
 */
public final class AdminServer implements AutoCloseable {

    static final String METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";
    private static final String TEXT = "text/plain; charset=utf-8";

    private final HttpServer server;
    private final ExecutorService executor;

    private AdminServer(HttpServer server, ExecutorService executor) {
        this.server = server;
        this.executor = executor;
    }

    /**
     * Binds and starts serving.
     *
     * @param metrics the exposition, e.g. {@code prometheusMetrics::scrape}
     * @throws IOException when the address cannot be bound
     */
    public static AdminServer start(InetSocketAddress bind, Supplier<String> metrics, Readiness readiness)
            throws IOException {
        HttpServer server = HttpServer.create(bind, 16);
        AtomicInteger n = new AtomicInteger();
        // Two threads: a slow scrape never holds up a probe, and the admin port never takes more from the proxy's cores.
        ExecutorService executor = Executors.newFixedThreadPool(2, r -> {
            Thread t = new Thread(r, "egressd-admin-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
        server.setExecutor(executor);
        server.createContext("/", exchange -> handle(exchange, metrics, readiness));
        server.start();
        return new AdminServer(server, executor);
    }

    /** The bound address (the real port when asked for port 0). */
    public InetSocketAddress address() {
        return server.getAddress();
    }

    private static void handle(HttpExchange exchange, Supplier<String> metrics, Readiness readiness)
            throws IOException {
        try (exchange) {
            String method = exchange.getRequestMethod();
            if (!method.equals("GET") && !method.equals("HEAD")) {
                exchange.getResponseHeaders().set("Allow", "GET, HEAD");
                respond(exchange, 405, TEXT, "method not allowed\n");
                return;
            }
            switch (exchange.getRequestURI().getPath()) {
                case "/metrics" -> respond(exchange, 200, METRICS_CONTENT_TYPE, metrics.get());
                case "/healthz" -> respond(exchange, 200, TEXT, "ok\n");
                case "/readyz" -> {
                    List<String> waiting = readiness.waitingFor();
                    if (waiting.isEmpty()) {
                        respond(exchange, 200, TEXT, "ready\n");
                    } else {
                        respond(exchange, 503, TEXT, "not ready: waiting for " + String.join(", ", waiting) + "\n");
                    }
                }
                default -> respond(exchange, 404, TEXT, "not found; try /metrics, /healthz, /readyz\n");
            }
        }
    }

    private static void respond(HttpExchange exchange, int status, String contentType, String body)
            throws IOException {
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        exchange.getResponseHeaders().set("Content-Type", contentType);
        boolean head = exchange.getRequestMethod().equals("HEAD");
        exchange.sendResponseHeaders(status, head ? -1 : bytes.length);
        if (!head) {
            try (OutputStream out = exchange.getResponseBody()) {
                out.write(bytes);
            }
        }
    }

    /** Stops at once: a scrape or probe cut short is retried, and JDK 17 would wait out any delay given. */
    @Override
    public void close() {
        server.stop(0);
        executor.shutdownNow();
    }
}
