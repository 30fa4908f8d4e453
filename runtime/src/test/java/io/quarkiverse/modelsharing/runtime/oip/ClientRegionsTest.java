package io.quarkiverse.modelsharing.runtime.oip;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

import io.vertx.core.net.SocketAddress;

/** Client shared-memory regions are for clients on this host only. */
class ClientRegionsTest {

    @Test
    void onlyLoopbackAndUnixSocketPeersAreFromThisHost() {
        assertTrue(ClientRegions.fromThisHost(SocketAddress.inetSocketAddress(40000, "127.0.0.1")));
        assertTrue(ClientRegions.fromThisHost(SocketAddress.inetSocketAddress(40000, "127.8.9.10")));
        assertTrue(ClientRegions.fromThisHost(SocketAddress.inetSocketAddress(40000, "::1")));
        assertTrue(ClientRegions.fromThisHost(SocketAddress.domainSocketAddress("/run/app.sock")));
        assertFalse(ClientRegions.fromThisHost(SocketAddress.inetSocketAddress(40000, "10.1.2.3")));
        assertFalse(ClientRegions.fromThisHost(SocketAddress.inetSocketAddress(40000, "192.168.0.7")));
        assertFalse(ClientRegions.fromThisHost(SocketAddress.inetSocketAddress(40000, "fe80::1")));
        assertFalse(ClientRegions.fromThisHost(SocketAddress.inetSocketAddress(40000, "localhost.example.com")));
        assertFalse(ClientRegions.fromThisHost(null), "no address is not this host");
    }
}
