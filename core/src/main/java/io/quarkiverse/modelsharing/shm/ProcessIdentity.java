package io.quarkiverse.modelsharing.shm;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A process as the janitor knows it: its pid and its start time (clock ticks since boot, from {@code /proc}),
 * which together survive pid reuse.
 */
record ProcessIdentity(long pid, long startTime) {

    static ProcessIdentity current() {
        long pid = ProcessHandle.current().pid();
        long start = startTime(pid);
        if (start < 0) {
            throw new SharedMemoryException("cannot read this process's start time from /proc/" + pid + "/stat");
        }
        return new ProcessIdentity(pid, start);
    }

    /** Whether the process that this identity names is still running (and is the same process). */
    boolean isAlive() {
        return startTime(pid) == startTime;
    }

    /** The start time of {@code pid}, or -1 if no such process runs. */
    static long startTime(long pid) {
        try {
            String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
            // the command name in parentheses may hold spaces: count fields after its closing parenthesis
            String[] fields = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
            return Long.parseLong(fields[19]);
        } catch (IOException | RuntimeException e) {
            return -1;
        }
    }

    static int uid() {
        try {
            return (Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid");
        } catch (IOException e) {
            throw new SharedMemoryException("cannot read this process's user id from /proc/self", e);
        }
    }
}
