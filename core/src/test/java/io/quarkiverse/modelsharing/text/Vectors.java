package io.quarkiverse.modelsharing.text;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

/** What the text models' tests compare embeddings with, and run them from. */
public final class Vectors {

    private Vectors() {
    }

    /** The cosine similarity of two vectors. */
    public static double cosine(float[] a, float[] b) {
        double dot = 0;
        double na = 0;
        double nb = 0;
        for (int i = 0; i < a.length; i++) {
            dot += a[i] * b[i];
            na += a[i] * a[i];
            nb += b[i] * b[i];
        }
        return dot / Math.sqrt(na * nb);
    }

    /** A task per caller, each given its index, all at once; rethrows the first failure. */
    public interface Caller {
        void call(int index) throws Exception;
    }

    /** Runs {@code callers} callers at once, waits for them all and rethrows the first failure. */
    public static void concurrently(int callers, Caller caller) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(callers);
        try {
            List<Future<?>> calls = new ArrayList<>();
            for (int index = 0; index < callers; index++) {
                int own = index;
                calls.add(pool.submit((Callable<Void>) () -> {
                    caller.call(own);
                    return null;
                }));
            }
            for (Future<?> call : calls) {
                call.get(5, TimeUnit.MINUTES);
            }
        } finally {
            pool.shutdownNow();
        }
    }
}
