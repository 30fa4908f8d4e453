package io.quarkiverse.modelsharing.registry;

/**
 * How the registry picks which idle models to unload. A model with a live handle is never unloaded.
 */
public enum EvictionPolicy {
    /** Under memory or count pressure, unload the least recently used idle model first; also unload after the idle timeout. */
    LRU,
    /** Under pressure, unload the least frequently used idle model first; also unload after the idle timeout. */
    LFU,
    /** Unload a model once it has been idle for the idle timeout; under pressure, unload the longest idle first. */
    TTL,
    /** Never unload on its own: only {@link ModelRegistry#evict(String)} does; a load that does not fit fails. */
    MANUAL
}
