package io.quarkiverse.modelsharing.registry;

import java.time.Duration;

/**
 * A snapshot of one model's counters.
 *
 * @param name the model
 * @param state where it stands now
 * @param hits acquisitions served by the loaded model
 * @param misses acquisitions that had to load it or wait for its load
 * @param loads loads that succeeded
 * @param loadFailures loads that failed
 * @param lastLoadTime how long the last successful load took
 * @param totalLoadTime how long all loads took together
 * @param evictions times the model was unloaded while registered
 * @param bytes the memory the loaded model is accounted for, 0 when unloaded
 * @param liveHandles handles to the loaded model not yet closed
 */
public record ModelStats(String name, ModelState state, long hits, long misses, long loads, long loadFailures,
        Duration lastLoadTime, Duration totalLoadTime, long evictions, long bytes, int liveHandles) {
}
