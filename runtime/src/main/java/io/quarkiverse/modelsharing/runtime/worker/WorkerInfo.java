package io.quarkiverse.modelsharing.runtime.worker;

import java.util.Map;

/**
 * One worker as the application sees it now, for the Dev UI: what {@link WorkerPool#status()} and the metrics sum over
 * the pool, worker by worker.
 *
 * @param name the worker's name in the log and in readiness, {@code cpu#0}, or the external daemon's description
 * @param device the device a managed worker is bound to, {@code cpu} or {@code cuda:0}; {@code external} for a daemon
 *        this application does not run
 * @param pid the process serving, or -1 while a managed worker is down; for the external daemon, the pid it reports,
 *        or -1 while it does not answer
 * @param restarts restarts that brought a managed worker up again; always 0 for the external daemon
 * @param state {@code up}, or {@code down: <why>}, as readiness says it
 * @param status what the worker answered its last heartbeat with ({@code queue}, {@code runs}, {@code models}, ...):
 *        empty while it does not answer
 */
public record WorkerInfo(String name, String device, long pid, long restarts, String state, Map<String, String> status) {
}
