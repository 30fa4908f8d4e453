package io.quarkiverse.modelsharing.shm;

import java.lang.System.Logger.Level;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import io.quarkiverse.modelsharing.tensor.DType;
import io.quarkiverse.modelsharing.tensor.StorageKind;
import io.quarkiverse.modelsharing.tensor.Tensor;
import io.quarkiverse.modelsharing.tensor.TensorAllocator;

/**
 * This process's shared-memory pools: tensors allocated here live in pre-faulted pool files that other processes
 * map, and a {@link TensorDescriptor} names one in a few dozen bytes. The files are sealed memfds by default, handed to
 * a worker (and back) over its Unix socket and freed by the kernel with their last holder; with
 * {@link SharedMemorySettings#namedFiles()} they are named files under {@code /dev/shm/quarkus-model-sharing-<uid>/}
 * that any process of the user opens from a descriptor alone.
 *
 * <pre>{@code
 * try (SharedMemoryPool pool = SharedMemoryPool.open(SharedMemorySettings.defaults());
 *         Tensor t = pool.allocate(DType.F32, 1024, 1024)) {
 *     byte[] descriptor = pool.describe(t).encode(); // 64 bytes, whatever the tensor's size
 * }
 * }</pre>
 *
 * The pool grows by adding files up to the quota; freed blocks are reused. With named files, a janitor thread removes
 * the files of dead processes. Closing the pool unmaps this process's files (and deletes the named ones).
 */
public final class SharedMemoryPool implements TensorAllocator, AutoCloseable {

    private static final System.Logger LOG = System.getLogger(SharedMemoryPool.class.getName());

    private final SharedMemorySettings settings;
    private final Path directory;
    private final List<PoolFile> files = new CopyOnWriteArrayList<>();
    /** Named pools of other processes that views here have open; each goes with its last view. Guarded by itself. */
    private final Map<String, ForeignPool> foreign = new HashMap<>();
    private final AtomicLong generations = new AtomicLong();
    private final AtomicLong usedBytes = new AtomicLong();
    /** Blocks their owner freed while views still held them; reclaimed when the views close. */
    private final Queue<PoolBlockStorage> held = new ConcurrentLinkedQueue<>();
    private ScheduledExecutorService janitor; // guarded by this
    private final Janitor sweeper;
    private long mappedBytes; // guarded by this
    private volatile boolean closed;

    private SharedMemoryPool(SharedMemorySettings settings, Path directory) {
        this.settings = settings;
        this.directory = directory;
        // Named files need sweeping; memfd pools take back released blocks when they next allocate, and need no
        // thread of their own (a worker has one pool per connection) until they read another process's named pool.
        this.sweeper = settings.namedFiles() ? new Janitor(directory, () -> !files.isEmpty()) : null;
        if (sweeper != null) {
            sweeper.sweep();
            startHousekeeping();
        }
    }

    private synchronized void startHousekeeping() {
        if (janitor != null || closed) {
            return;
        }
        janitor = Executors.newSingleThreadScheduledExecutor(Thread.ofPlatform().daemon()
                .name("shared-memory-janitor").factory());
        long period = settings.janitorPeriod().toMillis();
        janitor.scheduleWithFixedDelay(this::housekeeping, period, period, TimeUnit.MILLISECONDS);
    }

    /**
     * Opens this process's pools. With named files it prepares the settings' directory (0700) first.
     *
     * @throws SharedMemoryException if named files are asked for and the directory cannot be used safely: not a
     *         directory, someone else's, or readable by others
     */
    public static SharedMemoryPool open(SharedMemorySettings settings) {
        return new SharedMemoryPool(settings, settings.namedFiles() ? settings.prepareDirectory() : settings.directory());
    }

    /** Each period: sweep dead processes' named files, take back blocks whose views closed. Never stops on a failure. */
    private void housekeeping() {
        try {
            if (sweeper != null) {
                sweeper.sweep();
            }
            dropGoneOwners();
            reclaimReleased();
        } catch (RuntimeException e) {
            LOG.log(Level.WARNING, "Shared-memory housekeeping failed: " + e);
        }
    }

    public SharedMemorySettings settings() {
        return settings;
    }

    public Path directory() {
        return directory;
    }

    @Override
    public StorageKind kind() {
        return StorageKind.SHARED;
    }

    @Override
    public Tensor allocateUninitialized(DType dtype, long... shape) {
        long length = Math.multiplyExact(elements(shape), dtype.byteSize());
        return Tensor.of(reserve(length, () -> {
        }), dtype, shape);
    }

    /** A session: an allocator over this pool with its own quota, e.g. one per client or per request. */
    public Session session(String name, long quotaBytes) {
        return new Session(name, quotaBytes);
    }

    /** The descriptor of a tensor allocated here (or a slice or view of one), for another thread or process. */
    public TensorDescriptor describe(Tensor tensor) {
        if (!owns(tensor) || !(tensor.storage() instanceof PoolBlockStorage block)) {
            throw new SharedMemoryException(tensor + " is not in this process's shared-memory pool; copy it with"
                    + " pool.copyOf(tensor) to share it");
        }
        long byteOffset = tensor.segment().address() - block.segment().address();
        return new TensorDescriptor(block.file.id, block.generation, block.dataOffset(), byteOffset, tensor.byteSize(),
                tensor.dtype(), tensor.shape(), tensor.isReadOnly());
    }

    /**
     * A read-only tensor over the block a descriptor names, in this process's pools or in another process's named pool
     * file (mapped while views of it are open). Checked before a byte is read: the pool exists, the range lies inside
     * it, and the block still holds the generation the descriptor names. The view counts itself in the block, so the
     * owner does not reuse the block while it is open.
     */
    public Tensor open(TensorDescriptor descriptor) {
        for (PoolFile file : files) {
            if (file.id.equals(descriptor.poolId())) {
                return view(file.segment, file.toString(), descriptor, true, null, null);
            }
        }
        ForeignPool mapping = namedForeign(descriptor.poolId());
        try {
            return view(mapping.segment, mapping.toString(), descriptor, true, mapping, null);
        } catch (RuntimeException e) {
            mapping.release();
            throw e;
        }
    }

    /**
     * A read-only view of a block of this process's pool that takes no reference in the block's header: for a block
     * something else holds (a lease), in a pool whose headers a peer can reach. The view must not outlive that hold.
     */
    public Tensor openUncounted(TensorDescriptor descriptor) {
        PoolFile file = file(descriptor.poolId());
        return view(file.segment, file.toString(), descriptor, false, null, null);
    }

    /** Whether {@code tensor} was allocated in this pool (or is a slice or view of such a tensor): it can be described. */
    public boolean owns(Tensor tensor) {
        return tensor.storage() instanceof PoolBlockStorage block && files.contains(block.file);
    }

    /** Whether {@code poolId} names one of this process's pool files. */
    public boolean hasPool(String poolId) {
        return files.stream().anyMatch(file -> file.id.equals(poolId));
    }

    /** The pool file's size, for a peer that is sent the pool. */
    public long poolBytes(String poolId) {
        return file(poolId).size();
    }

    /**
     * A new descriptor (file descriptor) of one of this process's memfd pools for a peer, read-only where the kernel
     * allows; the caller closes it once it has sent it.
     *
     * @throws SharedMemoryException if the pool is not this process's, or is a named file (which could be shrunk
     *         under a reader, so it is never handed to one)
     */
    public int descriptorForPeer(String poolId) {
        PoolFile file = file(poolId);
        if (file.isNamed()) {
            throw new SharedMemoryException("Pool " + poolId + " is a named file; only sealed memfd pools are sent to"
                    + " peers");
        }
        return file.descriptorForPeer();
    }

    private PoolFile file(String poolId) {
        for (PoolFile file : files) {
            if (file.id.equals(poolId)) {
                return file;
            }
        }
        throw new SharedMemoryException("Pool " + poolId + " is not one of this process's pools");
    }

    /**
     * A mapping of another process's named pool file with a reference taken for the caller. The mapping is kept (the
     * cache holds a reference of its own) while the owner lives, so that a receiver that opens and closes views keeps
     * the hand-off at a few hundred nanoseconds; {@link #dropGoneOwners()} lets go of it once the owner is gone.
     */
    private ForeignPool namedForeign(String poolId) {
        synchronized (foreign) {
            ForeignPool cached = foreign.get(poolId);
            if (cached != null && cached.tryRetain()) {
                return cached;
            }
            Path path = directory.resolve("pool-" + poolId + ".shm");
            if (!Files.exists(path)) {
                throw new SharedMemoryException("Shared-memory pool " + poolId + " is not shared with this process: its"
                        + " owner has exited, it is a memfd pool (those reach another process only over a worker"
                        + " connection; readers without one need named pool files), or the tensor lives on another host"
                        + " (descriptors travel only between processes that share " + settings.root() + ")");
            }
            ForeignPool[] mapped = new ForeignPool[1];
            mapped[0] = ForeignPool.ofNamedFile(poolId, path, () -> {
                synchronized (foreign) {
                    foreign.remove(poolId, mapped[0]);
                }
            });
            mapped[0].tryRetain(); // one reference for the caller, the first for the cache
            foreign.put(poolId, mapped[0]);
            if (janitor == null) {
                // a process with memfd pools of its own reads named ones: it needs the housekeeping that drops them
                startHousekeeping();
            }
            return mapped[0];
        }
    }

    /**
     * Lets go of the mappings of named pools whose owner is gone (the file was removed, or no live process holds its
     * lock); each is unmapped when its last view here closes.
     */
    void dropGoneOwners() {
        List<ForeignPool> gone = new java.util.ArrayList<>();
        synchronized (foreign) {
            foreign.forEach((id, pool) -> {
                Path path = directory.resolve("pool-" + id + ".shm");
                if (!Files.exists(path) || !Janitor.isHeld(path)) {
                    gone.add(pool);
                }
            });
            gone.forEach(pool -> foreign.remove(pool.id, pool));
        }
        gone.forEach(ForeignPool::release);
    }

    /**
     * A read-only view of the block {@code descriptor} names in {@code memory}, after checking it lies inside and is
     * current. Counted views take a reference in the block header (one compare-and-set that succeeds only while the
     * generation matches); uncounted ones only check the generation, and rely on a lease.
     */
    static Tensor view(MemorySegment memory, String where, TensorDescriptor descriptor, boolean counted,
            ForeignPool mapping, Runnable onFree) {
        long offset = descriptor.offset();
        long header = offset - BlockLayout.HEADER_BYTES;
        if (offset % BlockLayout.ALIGNMENT != 0 || header < 0 || offset > memory.byteSize()
                || descriptor.byteOffset() > memory.byteSize() - offset
                || descriptor.length() > memory.byteSize() - offset - descriptor.byteOffset()) {
            throw new SharedMemoryException(descriptor + " lies outside " + where + " (" + memory.byteSize()
                    + " bytes)");
        }
        if (BlockLayout.magic(memory, header) != BlockLayout.MAGIC) {
            throw new SharedMemoryException(descriptor + " does not point at a tensor block in " + where);
        }
        long blockLength = BlockLayout.length(memory, header);
        if (blockLength < 0 || descriptor.byteOffset() + descriptor.length() > blockLength) {
            throw new SharedMemoryException(descriptor + " runs past the end of its " + blockLength + "-byte block");
        }
        boolean current = counted ? BlockLayout.tryRetain(memory, header, descriptor.generation())
                : BlockLayout.generation(memory, header) == descriptor.generation();
        if (!current) {
            throw new SharedMemoryException(descriptor + " names a block that was freed or reused: its owner released"
                    + " the tensor before this process opened it");
        }
        MemorySegment data = memory.asSlice(offset + descriptor.byteOffset(), descriptor.length()).asReadOnly();
        TensorDescriptor block = new TensorDescriptor(descriptor.poolId(), descriptor.generation(), offset,
                descriptor.byteOffset(), descriptor.length(), descriptor.dtype(), descriptor.shape(), true);
        return Tensor.of(new MappedViewStorage(data, memory, header, counted, mapping, block, onFree),
                descriptor.dtype(), descriptor.shape());
    }

    /** Bytes of tensors currently allocated by this process. */
    public long usedBytes() {
        return usedBytes.get();
    }

    /** Bytes of pool files this process has mapped for its own tensors. */
    public synchronized long mappedBytes() {
        return mappedBytes;
    }

    /** How many pool files this process has mapped for its own tensors; {@link #mappedBytes()} is their total size. */
    public int fileCount() {
        return files.size();
    }

    /** Unmaps this process's pool files and deletes the named ones. Its tensors still open must not be used. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        synchronized (this) {
            closed = true;
            if (janitor != null) {
                janitor.shutdownNow();
            }
        }
        List<ForeignPool> cached;
        synchronized (foreign) {
            cached = new java.util.ArrayList<>(foreign.values());
            foreign.clear();
        }
        cached.forEach(ForeignPool::release); // views still open keep their mappings until they close
        files.forEach(PoolFile::close);
        files.clear();
        // The per-user directory goes if nothing is left in it (the kernel refuses while another process has a file there).
        if (settings.namedFiles()) {
            PrivateDirectory.removeIfEmpty(directory);
        }
    }

    private PoolBlockStorage reserve(long length, Runnable onFree) {
        if (closed) {
            throw new SharedMemoryException("The shared-memory pool is closed");
        }
        long blockBytes = BlockLayout.blockBytes(length);
        if (!held.isEmpty()) {
            reclaimReleased();
        }
        PoolBlockStorage block = reserveInFiles(blockBytes, length, onFree);
        return block != null ? block : growAndReserve(blockBytes, length, onFree);
    }

    /**
     * Reserves a block in a new pool file. Under the pool's lock it first looks again at the files: another thread
     * may have added one while this one waited, and many threads finding the pool full at once must add one file,
     * not one each.
     */
    private synchronized PoolBlockStorage growAndReserve(long blockBytes, long length, Runnable onFree) {
        PoolBlockStorage block = reserveInFiles(blockBytes, length, onFree);
        if (block != null) {
            return block;
        }
        PoolFile grown = grow(blockBytes);
        return block(grown, grown.allocate(blockBytes), blockBytes, length, onFree);
    }

    /** A block in the first pool file with room for it, or null if none has. */
    private PoolBlockStorage reserveInFiles(long blockBytes, long length, Runnable onFree) {
        for (PoolFile file : files) {
            long offset = file.allocate(blockBytes);
            if (offset >= 0) {
                return block(file, offset, blockBytes, length, onFree);
            }
        }
        return null;
    }

    private PoolBlockStorage block(PoolFile file, long offset, long blockBytes, long length, Runnable onFree) {
        long generation = generations.incrementAndGet();
        if (generation > BlockLayout.MAX_GENERATION) {
            throw new SharedMemoryException("This process's shared-memory pool has used up its block generations;"
                    + " restart the process");
        }
        BlockLayout.write(file.segment, offset, generation, length);
        usedBytes.addAndGet(blockBytes);
        return new PoolBlockStorage(file, offset, blockBytes, generation, length, () -> {
            usedBytes.addAndGet(-blockBytes);
            onFree.run();
        }, held::add);
    }

    /** Gives back the freed blocks whose views have all closed; the janitor runs this, and so does a full pool. */
    void reclaimReleased() {
        for (PoolBlockStorage block : held) {
            if (!block.isHeld() && held.remove(block)) {
                block.reclaim();
            }
        }
    }

    private synchronized PoolFile grow(long blockBytes) {
        long size = Math.max(settings.poolFileBytes(), (blockBytes + 4095) & -4096L);
        if (mappedBytes + size > settings.maxBytes()) {
            throw new QuotaExceededException("This process's shared-memory quota is " + settings.maxBytes()
                    + " bytes; its pools hold " + mappedBytes + " and a " + blockBytes + "-byte tensor needs a new "
                    + size + "-byte pool file. Close tensors you no longer need, or raise the quota");
        }
        PoolFile file;
        if (!settings.namedFiles()) {
            file = PoolFile.createMemfd(size);
        } else {
            file = PoolFile.createNamed(settings, size);
        }
        files.add(file);
        mappedBytes += size;
        return file;
    }

    private static long elements(long[] shape) {
        long count = 1;
        for (long dim : shape) {
            if (dim < 0) {
                throw new SharedMemoryException("shape dimension " + dim + " is negative");
            }
            count = Math.multiplyExact(count, dim);
        }
        return count;
    }

    /** An allocator over the pool with its own quota; closing tensors gives their bytes back to it. */
    public final class Session implements TensorAllocator {

        private final String name;
        private final long quotaBytes;
        private final AtomicLong used = new AtomicLong();

        private Session(String name, long quotaBytes) {
            this.name = name;
            this.quotaBytes = quotaBytes;
        }

        @Override
        public Tensor allocateUninitialized(DType dtype, long... shape) {
            long length = Math.multiplyExact(elements(shape), dtype.byteSize());
            long blockBytes = BlockLayout.blockBytes(length);
            long now = used.addAndGet(blockBytes);
            if (now > quotaBytes) {
                used.addAndGet(-blockBytes);
                throw new QuotaExceededException("Shared-memory session '" + name + "' holds " + (now - blockBytes)
                        + " bytes of its " + quotaBytes + "-byte quota; a " + dtype + " tensor of " + length
                        + " bytes does not fit. Close tensors the session no longer needs");
            }
            try {
                return Tensor.of(reserve(length, () -> used.addAndGet(-blockBytes)), dtype, shape);
            } catch (RuntimeException e) {
                used.addAndGet(-blockBytes);
                throw e;
            }
        }

        @Override
        public StorageKind kind() {
            return StorageKind.SHARED;
        }

        public long usedBytes() {
            return used.get();
        }
    }
}
