// A MongoDB-wire server for local development and tests: mongo-java-server with its H2 (MVStore)
// backend, so documents survive restarts. Started by scripts/infra/up.sh; real MongoDB runs in
// docker-compose and Kubernetes.
//
// Usage: java -cp 'classes:lib/*' MongoWireServer --host 127.0.0.1 --port 57017 --data FILE
import de.bwaldvogel.mongo.MongoServer;
import de.bwaldvogel.mongo.MongoVersion;
import de.bwaldvogel.mongo.backend.h2.H2Backend;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CountDownLatch;

public final class MongoWireServer {
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

    public static void main(String[] args) throws Exception {
        String host = "127.0.0.1";
        int port = 57017;
        String data = null;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--host" -> host = args[++i];
                case "--port" -> port = Integer.parseInt(args[++i]);
                case "--data" -> data = args[++i];
                default -> throw new IllegalArgumentException("unknown argument: " + args[i]);
            }
        }
        H2Backend backend;
        if (data == null) {
            backend = H2Backend.inMemory();
        } else {
            Path parent = Path.of(data).toAbsolutePath().getParent();
            if (parent != null) {
                Files.createDirectories(parent);
            }
            backend = new H2Backend(data);
        }
        backend.version(REPORTED);
        MongoServer server = new MongoServer(backend);
        server.bind(host, port);
        System.out.println("mongo-wire server listening on " + host + ":" + port
                + " (data: " + (data == null ? "in memory" : data) + ")");

        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            System.out.println("shutting down");
            server.shutdownNow(); // closes the backend, which commits and closes the MVStore
            stopped.countDown();
        }, "shutdown"));
        stopped.await();
    }
}
