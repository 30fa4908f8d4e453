package io.quarkiverse.modelsharing.deployment.kubernetes;

import java.util.List;

/**
 * The node-level worker daemon of external mode, as the generated DaemonSet runs it.
 *
 * @param name the DaemonSet's name
 * @param application the application whose manifests hold it
 * @param image an image whose entry point runs the worker jar
 * @param args the daemon's arguments: its socket and models
 * @param runAsUser the application's user: the daemon serves only its own user (peer credentials)
 * @param socketDirectory the host directory of the socket, shared with the application's pods
 * @param sharedMemoryBytes the daemon's shared-memory quota, the size of its {@code /dev/shm}
 */
record WorkerDaemonSet(String name, String application, String image, List<String> args, long runAsUser,
        String socketDirectory, long sharedMemoryBytes) {

    WorkerDaemonSet {
        args = List.copyOf(args);
    }
}
