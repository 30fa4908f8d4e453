package io.quarkiverse.modelsharing.protocol;

import java.util.concurrent.atomic.AtomicLong;

/** Bytes that many channels draw on together, so that all of them at once stay within a bound. */
public final class ByteBudget {

    private final long bytes;
    private final AtomicLong available;

    public ByteBudget(long bytes) {
        this.bytes = bytes;
        this.available = new AtomicLong(bytes);
    }

    public long bytes() {
        return bytes;
    }

    /** Bytes drawn now. */
    public long inUse() {
        return bytes - available.get();
    }

    /** Draws {@code amount} if that many are available; returns whether it did. */
    public boolean tryAcquire(long amount) {
        for (;;) {
            long now = available.get();
            if (now < amount) {
                return false;
            }
            if (available.compareAndSet(now, now - amount)) {
                return true;
            }
        }
    }

    public void release(long amount) {
        available.addAndGet(amount);
    }
}
