package io.quarkiverse.modelsharing.worker;

import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.Reader;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.concurrent.CompletableFuture;

/**
 * Drains a managed worker's stdout and stderr into the application's log, line by line, each on a daemon thread of its
 * own: a worker whose pipe nobody reads blocks on its next write once the pipe (64 KiB) is full, while it still looks
 * alive. Its stdout goes to the log at INFO, its stderr (ONNX Runtime's errors, a stack trace) at WARN, both as
 * {@code Model worker cpu#0: <line>}. The first stdout line that says {@code listening on} completes
 * {@link #listening()}; the last lines of stderr are kept to say why a worker did not start.
 */
public final class WorkerOutput {

    private static final System.Logger LOG = System.getLogger(WorkerOutput.class.getName());
    /** A longer line is logged in pieces: a worker that writes no newline cannot make this process buffer without end. */
    static final int MAX_LINE_CHARS = 8192;
    private static final int KEPT_LINES = 20;

    private final String name;
    private final CompletableFuture<Boolean> listening = new CompletableFuture<>();
    private final Deque<String> lastErrors = new ArrayDeque<>(); // guarded by itself
    private final Thread errors;

    private WorkerOutput(String name, Process process) {
        this.name = name;
        Thread.ofPlatform().daemon().name("model-worker-" + name + "-stdout")
                .start(() -> pump(process.getInputStream(), false));
        errors = Thread.ofPlatform().daemon().name("model-worker-" + name + "-stderr")
                .start(() -> pump(process.getErrorStream(), true));
    }

    /** Starts draining {@code process}'s output, logged under the worker's {@code name}. */
    public static WorkerOutput drain(String name, Process process) {
        return new WorkerOutput(name, process);
    }

    /** True once the worker said it listens; false if its stdout ended before. */
    public CompletableFuture<Boolean> listening() {
        return listening;
    }

    /**
     * The last lines the worker wrote to stderr, waiting up to {@code wait} for the rest of them if its stderr is about
     * to end (the worker exited).
     */
    public String errors(Duration wait) {
        try {
            errors.join(wait);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        synchronized (lastErrors) {
            return String.join("\n", lastErrors).trim();
        }
    }

    private void pump(InputStream stream, boolean isErrors) {
        StringBuilder line = new StringBuilder();
        char[] buffer = new char[8192];
        Reader reader = new InputStreamReader(stream);
        try {
            for (int read; (read = reader.read(buffer)) >= 0;) {
                for (int i = 0; i < read; i++) {
                    char c = buffer[i];
                    if (c == '\n') {
                        emit(line, isErrors);
                    } else if (c != '\r') {
                        line.append(c);
                        if (line.length() >= MAX_LINE_CHARS) {
                            emit(line, isErrors);
                        }
                    }
                }
            }
        } catch (IOException e) {
            LOG.log(System.Logger.Level.DEBUG, "Stopped reading the output of model worker " + name + ": " + e.getMessage());
        } finally {
            // When a process exits, the JDK's reaper moves what is still in its pipe into the stream itself and closes
            // the pipe, which can end our read first: what it saved is read here, so that no last line is lost.
            try {
                for (byte b : stream.readAllBytes()) {
                    if (b == '\n') {
                        emit(line, isErrors);
                    } else if (b != '\r') {
                        line.append((char) (b & 0xFF));
                    }
                }
            } catch (IOException e) {
                // nothing saved
            }
            try {
                reader.close();
            } catch (IOException e) {
                // closing anyway
            }
            if (!line.isEmpty()) {
                emit(line, isErrors);
            }
            if (!isErrors) {
                listening.complete(false);
            }
        }
    }

    private void emit(StringBuilder line, boolean isErrors) {
        String text = line.toString();
        line.setLength(0);
        if (isErrors) {
            LOG.log(System.Logger.Level.WARNING, "Model worker " + name + ": " + text);
            synchronized (lastErrors) {
                if (lastErrors.size() == KEPT_LINES) {
                    lastErrors.removeFirst();
                }
                lastErrors.addLast(text);
            }
        } else {
            LOG.log(System.Logger.Level.INFO, "Model worker " + name + ": " + text);
            if (text.contains("listening on")) {
                listening.complete(true);
            }
        }
    }
}
