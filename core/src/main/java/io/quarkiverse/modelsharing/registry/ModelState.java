package io.quarkiverse.modelsharing.registry;

/** Where a registered model stands. */
public enum ModelState {
    /** Registered, not in memory: the next caller loads it. */
    UNLOADED,
    /** A caller is loading it; others wait for that load. */
    LOADING,
    /** In memory. */
    LOADED,
    /** The last load failed and nothing is loaded; the next caller retries. */
    FAILED
}
