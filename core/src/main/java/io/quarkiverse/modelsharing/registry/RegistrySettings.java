package io.quarkiverse.modelsharing.registry;

import java.time.Duration;

/**
 * How a {@link ModelRegistry} admits and evicts models.
 *
 * @param policy which idle model goes first
 * @param maxMemoryBytes the memory budget for all loaded models, or 0 for none
 * @param maxModels how many models may be loaded at once, or 0 for no limit
 * @param idleTimeout how long a model may stay loaded with no open handle, or {@code null} to keep it
 */
public record RegistrySettings(EvictionPolicy policy, long maxMemoryBytes, int maxModels, Duration idleTimeout) {

    /** Idle models are unloaded this long after their last handle closes, unless configured otherwise. */
    public static final Duration DEFAULT_IDLE_TIMEOUT = Duration.ofSeconds(30);

    public RegistrySettings {
        if (policy == null) {
            throw new IllegalArgumentException("an eviction policy is required");
        }
        if (maxMemoryBytes < 0 || maxModels < 0) {
            throw new IllegalArgumentException("limits must not be negative: max memory " + maxMemoryBytes
                    + " bytes, max models " + maxModels);
        }
        if (idleTimeout != null && (idleTimeout.isZero() || idleTimeout.isNegative())) {
            throw new IllegalArgumentException("the idle timeout must be positive, was " + idleTimeout);
        }
    }

    /** Builds settings, then the registry. */
    public static final class Builder {
        private EvictionPolicy policy = EvictionPolicy.LRU;
        private long maxMemoryBytes;
        private int maxModels;
        private Duration idleTimeout = DEFAULT_IDLE_TIMEOUT;

        public Builder policy(EvictionPolicy policy) {
            this.policy = policy;
            return this;
        }

        /** The memory budget for all loaded models; 0 for none. */
        public Builder maxMemoryBytes(long maxMemoryBytes) {
            this.maxMemoryBytes = maxMemoryBytes;
            return this;
        }

        /** How many models may be loaded at once; 0 for no limit. */
        public Builder maxModels(int maxModels) {
            this.maxModels = maxModels;
            return this;
        }

        /** How long an idle model stays loaded; {@code null} keeps idle models until evicted. */
        public Builder idleTimeout(Duration idleTimeout) {
            this.idleTimeout = idleTimeout;
            return this;
        }

        public RegistrySettings settings() {
            return new RegistrySettings(policy, maxMemoryBytes, maxModels, idleTimeout);
        }

        public ModelRegistry build() {
            return new ModelRegistry(settings());
        }
    }
}
