/**
 * The egress fronts for TCP (design.md sections 5 and 6): the HTTP and CONNECT proxy on
 * LittleProxy, the SOCKS5 listener and the TCP forwards on Netty.
 *
 * <p>The daemon calls {@link io.egressd.proxy.EgressProxy#start},
 * {@link io.egressd.proxy.SocksProxy#start} and {@link io.egressd.proxy.TcpForwards#start};
 * everything else here is package-private.
 *
 * <ul>
 *   <li>HTTP: each accepted connection gets an {@code EgressGate} in front of LittleProxy's
 *       handler: the gate identifies the client, decides, and resolves names asynchronously
 *       for every request before LittleProxy sees it, so LittleProxy only ever dials the one
 *       address the policy vetted. An allowed CONNECT never reaches LittleProxy: the gate dials
 *       the vetted address itself, answers 200 and splices the two channels.</li>
 *   <li>SOCKS5: {@code SocksHandshake} (methods, RFC 1929 credentials), then
 *       {@code SocksConnect} (the request, decided by {@code StreamDecider}, the upstream
 *       connection, the reply).</li>
 *   <li>Forwards: {@code ForwardConnection} decides each connection for the forward's server.</li>
 *   <li>Both stream fronts then hand the two channels to {@code Splice}, which relays with
 *       back-pressure and counts bytes for the close event ({@code StreamSession}; for a
 *       CONNECT tunnel, the gate's {@code Exchange}).</li>
 * </ul>
 */
package io.egressd.proxy;
