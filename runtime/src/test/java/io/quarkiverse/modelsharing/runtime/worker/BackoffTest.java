package io.quarkiverse.modelsharing.runtime.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.time.Duration;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;

/** Restart delays double for a worker that does not stay up, and start again from the first once one does. */
class BackoffTest {

    @Test
    void delaysDoubleUntilAStartStaysUpForTheStablePeriod() {
        Backoff backoff = new Backoff(Duration.ofMillis(100), Duration.ofSeconds(5), Duration.ofSeconds(10));
        long briefly = TimeUnit.MILLISECONDS.toNanos(50); // up, said it listens, and died
        long[] delays = new long[8];
        for (int i = 0; i < delays.length; i++) {
            delays[i] = backoff.delayMillis(briefly);
        }
        assertEquals("[100, 200, 400, 800, 1600, 3200, 5000, 5000]", java.util.Arrays.toString(delays));
        assertEquals(5000, backoff.delayMillis(TimeUnit.SECONDS.toNanos(9)), "9 s up is not stable yet");
        assertEquals(100, backoff.delayMillis(TimeUnit.SECONDS.toNanos(10)), "10 s up is");
        assertEquals(200, backoff.delayMillis(0), "and a start that fails counts as one that did not stay up");
    }
}
