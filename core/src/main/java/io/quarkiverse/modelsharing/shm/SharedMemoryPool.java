package io.quarkiverse.modelsharing.shm;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.ConcurrentHashMap;
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
 * This process's shared-memory pools: tensors allocated here live in pre-faulted pool files under
 * {@code /dev/shm/quarkus-model-sharing-<uid>/} that other processes map from a {@link TensorDescriptor}.
 *
 * <pre>{@code
 * try (SharedMemoryPool pool = SharedMemoryPool.open(SharedMemorySettings.defaults());
 *         Tensor t = pool.allocate(DType.F32, 1024, 1024)) {
 *     byte[] descriptor = pool.describe(t).encode(); // 64 bytes, whatever the tensor's size
 * }
 * }</pre>
 *
 * The pool grows by adding files up to the quota; freed blocks are reused. A janitor thread removes the pools of
 * dead processes. Closing the pool unmaps and deletes this process's files.
 */
public final class SharedMemoryPool implements TensorAllocator, AutoCloseable {

    private final SharedMemorySettings settings;
    private final Path directory;
    private final ProcessIdentity self = ProcessIdentity.current();
    private final List<PoolFile> files = new CopyOnWriteArrayList<>();
    private final Map<String, PoolFile> foreign = new ConcurrentHashMap<>();
    private final AtomicLong generations = new AtomicLong();
    private final AtomicLong usedBytes = new AtomicLong();
    /** Blocks their owner freed while views still held them; reclaimed when the views close. */
    private final Queue<PoolBlockStorage> held = new ConcurrentLinkedQueue<>();
    private final ScheduledExecutorService janitor;
    private long mappedBytes; // guarded by this
    private volatile boolean closed;

    private SharedMemoryPool(SharedMemorySettings settings, Path directory) {
        this.settings = settings;
        this.directory = directory;
        Janitor.sweep(directory);
        this.janitor = Executors.newSingleThreadScheduledExecutor(Thread.ofPlatform().daemon()
                .name("shared-memory-janitor").factory());
        long period = settings.janitorPeriod().toMillis();
        janitor.scheduleWithFixedDelay(() -> {
            Janitor.sweep(directory);
            reclaimReleased();
        }, period, period, TimeUnit.MILLISECONDS);
    }

    /**
     * Opens this process's pools in the settings' directory, creating it (0700) if needed.
     *
     * @throws SharedMemoryException if the directory cannot be used safely: not a directory, someone else's, or
     *         readable by others
     */
    public static SharedMemoryPool open(SharedMemorySettings settings) {
        return new SharedMemoryPool(settings, settings.prepareDirectory());
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
        if (!(tensor.storage() instanceof PoolBlockStorage block) || !files.contains(block.file)) {
            throw new SharedMemoryException(tensor + " is not in this process's shared-memory pool; copy it with"
                    + " pool.copyOf(tensor) to share it");
        }
        long byteOffset = tensor.segment().address() - block.segment().address();
        return new TensorDescriptor(block.file.id, block.generation, block.dataOffset(), byteOffset, tensor.byteSize(),
                tensor.dtype(), tensor.shape(), tensor.isReadOnly());
    }

    /**
     * A read-only tensor over the block a descriptor names, in this process's pools or another's (mapped once and
     * cached). Checked before a byte is read: the pool exists, the range lies inside it, and the block still holds
     * the generation the descriptor names.
     */
    public Tensor open(TensorDescriptor descriptor) {
        return open(descriptor, true);
    }

    /**
     * A read-only view that does not count itself in the block: for a block whose lifetime something else holds,
     * such as a worker's output leased to a connection. The view must not be used once that lease has ended.
     */
    public Tensor openLeased(TensorDescriptor descriptor) {
        return open(descriptor, false);
    }

    private Tensor open(TensorDescriptor descriptor, boolean counted) {
        PoolFile file = files.stream().filter(f -> f.id.equals(descriptor.poolId())).findFirst()
                .orElseGet(() -> foreign.computeIfAbsent(descriptor.poolId(), this::mapForeign));
        MemorySegment memory = file.segment;
        long offset = descriptor.offset();
        long header = offset - BlockLayout.HEADER_BYTES;
        if (offset % BlockLayout.ALIGNMENT != 0 || header < 0 || offset > memory.byteSize()
                || descriptor.byteOffset() > memory.byteSize() - offset
                || descriptor.length() > memory.byteSize() - offset - descriptor.byteOffset()) {
            throw new SharedMemoryException(descriptor + " lies outside pool " + file.path + " (" + memory.byteSize()
                    + " bytes)");
        }
        if (BlockLayout.magic(memory, header) != BlockLayout.MAGIC) {
            throw new SharedMemoryException(descriptor + " does not point at a tensor block in pool " + file.path);
        }
        if (descriptor.byteOffset() + descriptor.length() > BlockLayout.length(memory, header)) {
            throw new SharedMemoryException(descriptor + " runs past the end of its " + BlockLayout.length(memory, header)
                    + "-byte block");
        }
        // A counted view takes its reference only while the block holds the descriptor's generation: see BlockLayout.
        boolean current = counted ? BlockLayout.tryRetain(memory, header, descriptor.generation())
                : BlockLayout.generation(memory, header) == descriptor.generation();
        if (!current) {
            throw new SharedMemoryException(descriptor + " names a block that was freed or reused: its owner released"
                    + " the tensor before this process opened it");
        }
        long count = counted ? 1 : 0;
        MemorySegment data = memory.asSlice(offset + descriptor.byteOffset(), descriptor.length()).asReadOnly();
        return Tensor.of(new MappedViewStorage(data, memory, header, count), descriptor.dtype(), descriptor.shape());
    }

    /** Bytes of tensors currently allocated by this process. */
    public long usedBytes() {
        return usedBytes.get();
    }

    /** Bytes of pool files this process has mapped for its own tensors. */
    public synchronized long mappedBytes() {
        return mappedBytes;
    }

    /** Unmaps and deletes this process's pool files and unmaps the others'. Tensors still open must not be used. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        janitor.shutdownNow();
        files.forEach(PoolFile::close);
        files.clear();
        foreign.values().forEach(PoolFile::close);
        foreign.clear();
        try {
            // the per-user directory goes with the last process that used it
            Files.deleteIfExists(directory);
        } catch (IOException e) {
            // not empty: another process still shares memory through it
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
        try {
            file = PoolFile.create(directory, size, self);
        } catch (SharedMemoryException e) {
            if (Files.isDirectory(directory)) {
                throw e;
            }
            // another process removed the directory when it closed its last pool: make it again
            settings.prepareDirectory();
            file = PoolFile.create(directory, size, self);
        }
        files.add(file);
        mappedBytes += size;
        return file;
    }

    private PoolFile mapForeign(String poolId) {
        try (DirectoryStream<Path> matches = Files.newDirectoryStream(directory, "pool-" + poolId + "-*.shm")) {
            for (Path match : matches) {
                return PoolFile.open(match);
            }
        } catch (IOException e) {
            throw new SharedMemoryException("Cannot look for pool " + poolId + " in " + directory + ": " + e.getMessage(), e);
        }
        throw new SharedMemoryException("Shared-memory pool " + poolId + " is not in " + directory
                + ": its owner has exited, or the tensor lives on another host (descriptors travel only between"
                + " processes that share " + settings.root() + ")");
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
