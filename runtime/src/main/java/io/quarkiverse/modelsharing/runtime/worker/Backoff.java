package io.quarkiverse.modelsharing.runtime.worker;

import java.time.Duration;

/**
 * The delays between the starts of a worker that keeps dying: {@code first}, doubling up to {@code max}, and back to
 * {@code first} only once a worker has stayed up for {@code stablePeriod}. A worker that crashes right after it said it
 * listens thus waits ever longer between starts, instead of restarting ten times a second for good.
 */
final class Backoff {

    private final long firstMillis;
    private final long maxMillis;
    private final long stableNanos;
    private long nextMillis; // guarded by this

    Backoff(Duration first, Duration max, Duration stablePeriod) {
        this.firstMillis = first.toMillis();
        this.maxMillis = max.toMillis();
        this.stableNanos = stablePeriod.toNanos();
        this.nextMillis = firstMillis;
    }

    /** The delay before starting again a worker that was up for {@code upNanos} (0 if it did not start at all). */
    synchronized long delayMillis(long upNanos) {
        if (upNanos >= stableNanos) {
            nextMillis = firstMillis;
        }
        long delay = nextMillis;
        nextMillis = Math.min(nextMillis * 2, maxMillis);
        return delay;
    }
}
