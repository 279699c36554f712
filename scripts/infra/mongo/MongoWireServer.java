// A MongoDB-wire server for local development and tests: mongo-java-server with its H2 (MVStore)
// backend, so documents survive restarts. Started by scripts/infra/mongo.sh; real MongoDB runs in
// docker-compose and Kubernetes.
//
// Usage: java -cp 'classes:lib/*' MongoWireServer --host 127.0.0.1 --port 17017 --data FILE
//
// The store: SIGTERM (scripts/infra/down.sh) closes the clients, commits and closes the MVStore,
// then leaves FILE.closed beside it. A start that finds no FILE.closed knows the last run did not
// close the store (killed, crashed) and reads every page of every map before serving; a start
// that finds the store unreadable, or a store that fails while serving, prints one line
// "STORE ERROR: ..." and exits with status 3, which mongo.sh takes as "move it aside" (a store
// that another process holds open: "STORE LOCKED: ...", status 4, left alone).
import de.bwaldvogel.mongo.MongoServer;
import de.bwaldvogel.mongo.MongoVersion;
import de.bwaldvogel.mongo.backend.h2.H2Backend;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import org.h2.mvstore.DataUtils;
import org.h2.mvstore.MVMap;
import org.h2.mvstore.MVStore;
import org.h2.mvstore.MVStoreException;

public final class MongoWireServer {
    static final int STORE_ERROR = 3;
    static final int STORE_LOCKED = 4;

    // What the server tells drivers it is. The library's own enum tops out at wire version 8, which
    // PyMongo 4.20 refuses (it needs 9, MongoDB 4.4); the value is only reported (hello/buildInfo),
    // so report MongoDB 7.0 (wire 21), the version docker-compose and Kubernetes run.
    private static final MongoVersion REPORTED = new MongoVersion() {
        @Override
        public List<Integer> getVersionArray() {
            return List.of(7, 0, 0);
        }

        @Override
        public int getWireVersion() {
            return 21;
        }
    };

    private static volatile boolean closing;

    public static void main(String[] args) throws Exception {
        String host = "127.0.0.1";
        int port = 17017;
        Path data = null;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--host" -> host = args[++i];
                case "--port" -> port = Integer.parseInt(args[++i]);
                case "--data" -> data = Path.of(args[++i]).toAbsolutePath();
                default -> throw new IllegalArgumentException("unknown argument: " + args[i]);
            }
        }
        H2Backend backend = data == null ? H2Backend.inMemory() : openStore(data);
        backend.version(REPORTED);
        MongoServer server = new MongoServer(backend);
        server.bind(host, port);
        System.out.println("mongo-wire server listening on " + host + ":" + port
                + " (data: " + (data == null ? "in memory" : data) + ")");
        Path closedMarker = data == null ? null : closedMarker(data);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> close(server, closedMarker), "shutdown"));
        new CountDownLatch(1).await(); // until a signal: the JVM runs the hook, then exits
    }

    static Path closedMarker(Path data) {
        return data.resolveSibling(data.getFileName() + ".closed");
    }

    // Opens the store and checks it can be read: every page when the last run did not close it.
    static H2Backend openStore(Path data) throws IOException {
        Files.createDirectories(data.getParent());
        boolean closedCleanly = !Files.exists(data) || Files.deleteIfExists(closedMarker(data));
        try {
            MVStore store = new MVStore.Builder()
                    .fileName(data.toString())
                    .backgroundExceptionHandler((thread, error) -> storeFailed(error))
                    .open();
            verify(store, !closedCleanly);
            return new H2Backend(store);
        } catch (RuntimeException error) {
            storeFailed(error);
            throw error;
        }
    }

    // Reads each map's root, first and last keys; with everything, every entry (every page).
    static void verify(MVStore store, boolean everything) {
        long started = System.nanoTime();
        long entries = 0;
        if (everything) {
            System.out.println("the store was not closed by the last run: reading every page");
        }
        for (String name : store.getMapNames()) {
            MVMap<Object, Object> map = store.openMap(name);
            map.sizeAsLong();
            map.firstKey();
            map.lastKey();
            if (everything) {
                for (Iterator<Object> keys = map.keyIterator(null); keys.hasNext(); keys.next()) {
                    entries++;
                }
            }
        }
        System.out.printf("store verified (%d maps%s) in %d ms%n", store.getMapNames().size(),
                everything ? ", " + entries + " entries" : "", (System.nanoTime() - started) / 1_000_000);
    }

    // SIGTERM: stop listening, close the clients, commit and close the MVStore (MongoServer's
    // shutdownNow closes the backend last), then mark the store as closed.
    static void close(MongoServer server, Path closedMarker) {
        closing = true;
        long started = System.nanoTime();
        System.out.println("shutting down: closing the clients, committing and closing the store");
        try {
            server.shutdownNow();
            if (closedMarker != null) {
                Files.write(closedMarker, new byte[0]);
            }
            System.out.printf("store closed in %d ms%n", (System.nanoTime() - started) / 1_000_000);
        } catch (IOException | RuntimeException error) {
            System.out.println("STORE ERROR: closing failed: " + error);
            error.printStackTrace();
        }
    }

    // A store that cannot be read or written: one line for mongo.sh, the stack trace, and exit 3.
    // A store another process holds open is not broken: exit 4, so that nobody moves it aside.
    // halt, not exit: the shutdown hook would try to close the broken store again.
    static void storeFailed(Throwable error) {
        if (closing) {
            return;
        }
        boolean locked = error instanceof MVStoreException e
                && e.getErrorCode() == DataUtils.ERROR_FILE_LOCKED;
        String line = (locked ? "STORE LOCKED: " : "STORE ERROR: ") + error;
        System.out.println(line.length() > 300 ? line.substring(0, 300) + "..." : line);
        error.printStackTrace();
        System.out.flush();
        Runtime.getRuntime().halt(locked ? STORE_LOCKED : STORE_ERROR);
    }
}
