/**
 * The filtering DNS server (design.md sections 5, 6 and 9; issue 4).
 *
 * <p>The public API is three types: {@link io.egressd.dns.DnsSettings} says where to listen
 * and where to forward, {@link io.egressd.dns.DnsFilter#start} binds UDP and TCP on one port
 * and returns a handle to close, and {@link io.egressd.dns.DenyRcode} is the answer to names
 * outside the allowlist. Everything else is package-private:
 *
 * <ul>
 *   <li>{@code UdpQueryHandler}, {@code TcpQueryHandler}: one transport each, bytes in and out;</li>
 *   <li>{@code QueryDecoder}, {@code Replies}: wire validation and protocol-correct answers;</li>
 *   <li>{@code QueryService}: identity, query type, name decision, cache or forward, report;</li>
 *   <li>{@code Forwarder}: fresh queries to the upstreams, failover, timeout;</li>
 *   <li>{@code UpstreamAnswer}, {@code AnswerCache}: what is kept of an answer, and for how long;</li>
 *   <li>{@code AnswerFilter}: the policy's address rules applied to the records a client sees.</li>
 * </ul>
 */
package io.egressd.dns;
