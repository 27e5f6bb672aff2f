/**
 * The HTTP and CONNECT egress proxy (design.md sections 5 and 6), on LittleProxy.
 *
 * <p>The daemon calls {@link io.egressd.proxy.EgressProxy#start}; everything else here is
 * package-private. Each accepted connection gets an {@code EgressGate} in front of
 * LittleProxy's handler: the gate identifies the client, decides, and resolves names
 * asynchronously for every request before LittleProxy sees it, so LittleProxy only ever
 * dials the one address the policy vetted.
 */
package io.egressd.proxy;
