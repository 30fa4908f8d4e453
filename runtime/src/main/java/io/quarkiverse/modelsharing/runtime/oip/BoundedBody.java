package io.quarkiverse.modelsharing.runtime.oip;

import io.vertx.core.AsyncResult;
import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.streams.WriteStream;

/**
 * A response body gathered up to a bound: a remote server that sends more fails the exchange instead of filling
 * this process's memory.
 */
final class BoundedBody implements WriteStream<Buffer> {

    private final long max;
    private final String what;
    private final Buffer body = Buffer.buffer();
    private volatile boolean ended;
    private volatile boolean exceeded;

    BoundedBody(long max, String what) {
        this.max = max;
        this.what = what;
    }

    Buffer body() {
        return body;
    }

    /** Whether the whole answer has come, within the bound (a pipe also ends its destination when it fails). */
    boolean ended() {
        return ended && !exceeded;
    }

    @Override
    public Future<Void> write(Buffer data) {
        if (exceeded || (long) body.length() + data.length() > max) {
            exceeded = true;
            return Future.failedFuture(new InferenceProtocolException(502, what + " sent a response larger than "
                    + max + " bytes (remote.max-response-size)"));
        }
        body.appendBuffer(data);
        return Future.succeededFuture();
    }

    @Override
    public void write(Buffer data, Handler<AsyncResult<Void>> handler) {
        Future<Void> written = write(data);
        if (handler != null) {
            written.onComplete(handler);
        }
    }

    @Override
    public Future<Void> end() {
        ended = true;
        return Future.succeededFuture();
    }

    @Override
    public void end(Handler<AsyncResult<Void>> handler) {
        ended = true;
        if (handler != null) {
            handler.handle(Future.succeededFuture());
        }
    }

    @Override
    public WriteStream<Buffer> exceptionHandler(Handler<Throwable> handler) {
        return this;
    }

    @Override
    public WriteStream<Buffer> setWriteQueueMaxSize(int maxSize) {
        return this;
    }

    @Override
    public boolean writeQueueFull() {
        return false;
    }

    @Override
    public WriteStream<Buffer> drainHandler(Handler<Void> handler) {
        return this;
    }
}
