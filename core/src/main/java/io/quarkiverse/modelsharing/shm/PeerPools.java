package io.quarkiverse.modelsharing.shm;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

import io.quarkiverse.modelsharing.tensor.Tensor;

/**
 * The pools one peer (the other end of one connection) sent this process as sealed memfds, mapped read-only. Only
 * descriptors that name one of them open here: a peer cannot make this process read another peer's memory, nor this
 * process's own. Each pool stays mapped while the connection holds it or a view of it is open, and no longer.
 *
 * <pre>{@code
 * try (PeerPools pools = new PeerPools("client 'app' (pid 42)", 1024)) {
 *     pools.accept(poolId, fd, bytes);              // a pool that arrived with SCM_RIGHTS
 *     try (Tensor input = pools.open(descriptor, null)) { ... }
 * }
 * }</pre>
 */
public final class PeerPools implements AutoCloseable {

    private final String peer;
    private final int maxPools;
    private final long maxBytes;
    private final java.util.concurrent.atomic.AtomicLong mappedBytes = new java.util.concurrent.atomic.AtomicLong();
    private final Map<String, ForeignPool> pools = new ConcurrentHashMap<>();
    private volatile boolean closed;

    /**
     * @param peer who the pools come from, for messages
     * @param maxPools how many pools the peer may share on the connection
     */
    public PeerPools(String peer, int maxPools) {
        this(peer, maxPools, Long.MAX_VALUE);
    }

    /**
     * @param maxBytes how many bytes of pools the peer may have mapped here at once: a sealed memfd can be made large
     *        without using memory, and each one mapped takes address space
     */
    public PeerPools(String peer, int maxPools, long maxBytes) {
        this.peer = peer;
        this.maxPools = maxPools;
        this.maxBytes = maxBytes;
    }

    /**
     * Maps a pool the peer sent and closes {@code fd}, whatever happens.
     *
     * @throws SharedMemoryException if the pool is not a sealed memfd of the announced size, the peer already sent a
     *         pool with this id, or it sent more pools than allowed
     */
    public void accept(String poolId, int fd, long bytes) {
        if (closed || pools.containsKey(poolId) || pools.size() >= maxPools) {
            Libc.close(fd);
            throw new SharedMemoryException(closed ? "The connection to " + peer + " is closed"
                    : pools.containsKey(poolId) ? peer + " sent pool " + poolId + " twice"
                            : peer + " sent more than " + maxPools + " pools on one connection");
        }
        if (bytes <= 0 || mappedBytes.addAndGet(bytes) > maxBytes || mappedBytes.get() < 0) {
            mappedBytes.addAndGet(-Math.max(bytes, 0));
            Libc.close(fd);
            throw new SharedMemoryException(peer + " sent a pool of " + bytes + " bytes; with the " + mappedBytes.get()
                    + " it has mapped, that is past its " + maxBytes + "-byte bound");
        }
        ForeignPool pool;
        try {
            pool = ForeignPool.ofDescriptor(poolId, fd, bytes, peer, () -> mappedBytes.addAndGet(-bytes));
        } catch (RuntimeException e) {
            mappedBytes.addAndGet(-bytes);
            throw e;
        }
        if (pools.putIfAbsent(poolId, pool) != null || closed) {
            pools.remove(poolId, pool);
            pool.release();
            throw new SharedMemoryException(peer + " sent pool " + poolId + " twice, or the connection closed meanwhile");
        }
    }

    /** Whether the peer has sent the pool. */
    public boolean has(String poolId) {
        return pools.containsKey(poolId);
    }

    /**
     * A read-only view of the block {@code descriptor} names in one of the peer's pools, checked before a byte is read
     * (the pool is one the peer sent, the range lies inside it and inside its block, the block holds the generation).
     * The view takes no reference in the peer's memory: the peer keeps the block for the request or lease it sent it
     * for. It holds the pool's mapping; {@code onFree}, if given, runs when its last reference closes.
     *
     * @throws SharedMemoryException if any check fails
     */
    public Tensor open(TensorDescriptor descriptor, Runnable onFree) {
        ForeignPool pool = pools.get(descriptor.poolId());
        if (pool == null || !pool.tryRetain()) {
            throw new SharedMemoryException(descriptor + " names pool " + descriptor.poolId() + ", which " + peer
                    + " has not shared on this connection");
        }
        try {
            return SharedMemoryPool.view(pool.segment, pool.toString(), descriptor, false, pool, onFree);
        } catch (RuntimeException e) {
            pool.release();
            throw e;
        }
    }

    /**
     * The descriptor of {@code tensor} if it is a view of one of these pools (sending it back to the peer names the
     * peer's own block, no copy), else null.
     */
    public TensorDescriptor describe(Tensor tensor) {
        if (tensor.storage() instanceof MappedViewStorage view && view.mapping() != null
                && pools.get(view.mapping().id) == view.mapping()) {
            return view.describe(tensor.segment(), tensor.dtype(), tensor.shape());
        }
        return null;
    }

    /** Pools held for the connection now (views may keep others mapped a little longer). */
    public int size() {
        return pools.size();
    }

    /** The connection ended: its pools are unmapped now, or when the last view of each closes. */
    @Override
    public void close() {
        closed = true;
        List<ForeignPool> held = new ArrayList<>(pools.values());
        pools.clear();
        held.forEach(ForeignPool::release);
    }
}
