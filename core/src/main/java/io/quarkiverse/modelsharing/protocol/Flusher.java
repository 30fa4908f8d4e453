package io.quarkiverse.modelsharing.protocol;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

import io.quarkiverse.modelsharing.ForeignCalls;

/**
 * One thread for the whole process that writes the output peers did not take at once: it waits ({@code poll}) until
 * any of their sockets takes bytes again, writes them, and disconnects a peer that took nothing for its write deadline.
 * So an inference thread never waits on a client that stopped reading, and no thread is spent per connection on it.
 */
final class Flusher {

    static final Flusher INSTANCE = new Flusher();
    private static final long MAX_WAIT_MILLIS = 100;

    private final Set<FrameChannel> waiting = ConcurrentHashMap.newKeySet();
    private final Object wake = new Object();
    private Thread thread; // guarded by wake

    private Flusher() {
    }

    /** Starts watching a channel whose queue is no longer empty. */
    void watch(FrameChannel channel) {
        waiting.add(channel);
        synchronized (wake) {
            if (thread == null) {
                thread = Thread.ofPlatform().daemon().name("frame-flusher").start(this::run);
            }
            wake.notifyAll();
        }
    }

    private void run() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = ForeignCalls.callState(arena);
            MemorySegment polls = arena.allocate(8L * 1024, 8);
            for (;;) {
                List<FrameChannel> channels = new ArrayList<>(waiting);
                if (channels.isEmpty()) {
                    synchronized (wake) {
                        if (waiting.isEmpty()) {
                            wake.wait(MAX_WAIT_MILLIS * 10);
                        }
                    }
                    continue;
                }
                if (channels.size() > 1024) {
                    channels = channels.subList(0, 1024);
                }
                long now = System.nanoTime();
                long nearest = Long.MAX_VALUE;
                for (int i = 0; i < channels.size(); i++) {
                    polls.set(JAVA_INT, 8L * i, channels.get(i).socket().descriptor());
                    polls.set(JAVA_SHORT, 8L * i + 4, UnixSocket.POLLOUT);
                    polls.set(JAVA_SHORT, 8L * i + 6, (short) 0);
                    nearest = Math.min(nearest, channels.get(i).deadlineNanos());
                }
                long wait = Math.max(1, Math.min(MAX_WAIT_MILLIS, (nearest - now) / 1_000_000 + 1));
                int ready = (int) UnixSocket.POLL.invokeExact(state, polls, (long) channels.size(), (int) wait);
                for (int i = 0; i < channels.size(); i++) {
                    FrameChannel channel = channels.get(i);
                    boolean writable = ready > 0 && polls.get(JAVA_SHORT, 8L * i + 6) != 0;
                    boolean late = System.nanoTime() >= channel.deadlineNanos();
                    if ((writable || late) && channel.flush()) { // flush never throws: it closes what fails
                        waiting.remove(channel);
                    } else if (!channel.socket().isOpen()) {
                        waiting.remove(channel);
                    }
                }
            }
        } catch (Throwable e) {
            System.getLogger(Flusher.class.getName()).log(System.Logger.Level.WARNING, "The frame flusher stopped; the"
                    + " next queued answer starts another", e);
            synchronized (wake) {
                thread = null; // the next watch starts another
            }
        }
    }
}
