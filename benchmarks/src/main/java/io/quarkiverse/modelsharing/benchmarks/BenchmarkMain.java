package io.quarkiverse.modelsharing.benchmarks;

import java.util.Collection;
import java.util.Locale;
import java.util.Set;

import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.options.ChainedOptionsBuilder;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;

/**
 * Runs the suites and prints each figure beside its baseline from the same run, as a ratio.
 * <p>
 * {@code java -jar benchmarks/target/benchmarks.jar [all|lookup,load,embedding,memory]} (default: all).
 */
public final class BenchmarkMain {

    private BenchmarkMain() {
    }

    public static void main(String[] args) throws Exception {
        Set<String> suites = Set.of((args.length == 0 || args[0].equals("all") ? "lookup,load,embedding,memory" : args[0])
                .split(","));
        StringBuilder report = new StringBuilder("\n== Quarkus Model Sharing benchmarks ==\n");
        if (suites.contains("lookup")) {
            Collection<RunResult> results = run(RegistryLookupBenchmark.class, 3, 3);
            double ours = percentile(results, "registryAcquireAndClose", 99);
            double base = percentile(results, "baselineConcurrentHashMapGet", 99);
            double oursP50 = percentile(results, "registryAcquireAndClose", 50);
            report.append(line("cached lookup p50 (acquire + close)", oursP50, "ns", percentile(results,
                    "baselineConcurrentHashMapGet", 50), "ConcurrentHashMap.get p50"));
            report.append(line("cached lookup p99 (acquire + close)", ours, "ns", base, "ConcurrentHashMap.get p99"));
            report.append(String.format(Locale.ROOT, "   target: p99 <= 1000 ns -> %s%n", ours <= 1000 ? "met" : "NOT met"));
        }
        if (suites.contains("load")) {
            Collection<RunResult> results = new Runner(options(FirstLoadBenchmark.class).warmupIterations(20)
                    .measurementIterations(50).build()).run();
            double ours = score(results, "registryFirstLoad");
            report.append(line("tiny model first load (registry)", ours, "ms", score(results, "baselineOrtCreateSession"),
                    "OrtEnvironment.createSession"));
            report.append(String.format(Locale.ROOT, "   target: < 100 ms -> %s%n", ours < 100 ? "met" : "NOT met"));
        }
        if (suites.contains("embedding")) {
            Collection<RunResult> results = run(EmbeddingThroughputBenchmark.class, 3, 5);
            double ours = score(results, "oursThroughModelHandle");
            double base = score(results, "baselineLangChain4jInProcess");
            report.append(line("MiniLM embeddings/s (@Model handle)", ours, "ops/s", base, "langchain4j in-process"));
            report.append(String.format(Locale.ROOT, "   target: ours/langchain4j >= 1.0 -> %s%n",
                    ours / base >= 1.0 ? "met" : "NOT met"));
        }
        if (suites.contains("memory")) {
            long[] kib = MemoryHarness.measure();
            report.append(line("RSS, 8 callers on one registry copy", kib[0] / 1024.0, "MiB", kib[1] / 1024.0,
                    "8 private sessions"));
            report.append(String.format(Locale.ROOT, "   saving: %.0f%% less resident memory%n",
                    100.0 * (1 - (double) kib[0] / kib[1])));
        }
        System.out.println(report);
    }

    private static Collection<RunResult> run(Class<?> benchmark, int warmups, int measurements) throws Exception {
        return new Runner(options(benchmark).warmupIterations(warmups).measurementIterations(measurements).build()).run();
    }

    private static ChainedOptionsBuilder options(Class<?> benchmark) {
        return new OptionsBuilder().include(benchmark.getName() + "\\.").forks(1)
                .warmupTime(TimeValue.seconds(2)).measurementTime(TimeValue.seconds(3))
                .jvmArgsAppend("--enable-native-access=ALL-UNNAMED", "--sun-misc-unsafe-memory-access=allow",
                        "-DDJL_CACHE_DIR=" + System.getProperty("DJL_CACHE_DIR", "benchmarks/target/djl-cache"));
    }

    private static RunResult result(Collection<RunResult> results, String method) {
        return results.stream().filter(r -> r.getParams().getBenchmark().endsWith("." + method)).findFirst()
                .orElseThrow(() -> new IllegalStateException("no result for " + method));
    }

    private static double score(Collection<RunResult> results, String method) {
        return result(results, method).getPrimaryResult().getScore();
    }

    private static double percentile(Collection<RunResult> results, String method, double percentile) {
        return result(results, method).getPrimaryResult().getStatistics().getPercentile(percentile);
    }

    private static String line(String what, double ours, String unit, double baseline, String baselineName) {
        return String.format(Locale.ROOT, "%-40s %12.2f %-6s | %-30s %12.2f %-6s | ratio %.2fx%n", what, ours, unit,
                baselineName, baseline, unit, ours / baseline);
    }

}
