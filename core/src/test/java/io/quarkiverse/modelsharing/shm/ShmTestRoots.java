package io.quarkiverse.modelsharing.shm;

/** Private /dev/shm roots for tests outside this package. */
public final class ShmTestRoots {

    private ShmTestRoots() {
    }

    public static int uid() {
        return PrivateDirectory.uid();
    }

    public static Root create() {
        return new Root(new ShmTestRoot());
    }

    /** A root and its settings; closing it removes everything under it. */
    public static final class Root implements AutoCloseable {
        public final java.nio.file.Path root;
        private final ShmTestRoot delegate;

        Root(ShmTestRoot delegate) {
            this.delegate = delegate;
            this.root = delegate.root;
        }

        public SharedMemorySettings settings(long poolFileBytes, long maxBytes) {
            return delegate.settings(poolFileBytes, maxBytes);
        }

        public SharedMemorySettings namedSettings(long poolFileBytes, long maxBytes) {
            return delegate.namedSettings(poolFileBytes, maxBytes);
        }

        public long poolFiles() {
            return delegate.poolFiles();
        }

        @Override
        public void close() {
            delegate.close();
        }
    }
}
