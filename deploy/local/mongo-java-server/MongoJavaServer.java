// Launcher for de.bwaldvogel:mongo-java-server with a configurable address and a
// server version that current PyMongo accepts.
//
// Why: the stock main classes (de.bwaldvogel.mongo.InMemoryMongoServer, H2MongoServer)
// bind to localhost:27017 with no way to change it, and report maxWireVersion 8
// (its ServerVersion.MONGO_5_0, the newest enum value, carries wire version 8), which
// PyMongo 4.20 refuses ("requires at least 9 (MongoDB 4.4)"). The version is only
// reported in hello/buildInfo (it switches no behaviour), so this launcher reports a
// custom MongoVersion: wire version 9 / "4.4.0" by default (--wire-version to change).
//
// Run as a single-file source program (Java 11+, nothing to compile):
//   java -cp '<libs>/*' deploy/local/mongo-java-server/MongoJavaServer.java \
//        [--host 127.0.0.1] [--port 27017] [--h2-file <path.mv>] [--wire-version 9]
// Without --h2-file the in-memory backend is used. Stop with SIGINT/SIGTERM.

import de.bwaldvogel.mongo.MongoBackend;
import de.bwaldvogel.mongo.MongoServer;
import de.bwaldvogel.mongo.MongoVersion;
import de.bwaldvogel.mongo.backend.h2.H2Backend;
import de.bwaldvogel.mongo.backend.memory.MemoryBackend;
import java.util.List;
import java.util.Map;

public class MongoJavaServer {
    public static void main(String[] args) {
        String host = "127.0.0.1";
        int port = 27017;
        String h2File = null;
        int wireVersion = 9;

        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (i + 1 >= args.length) {
                usage("missing value for " + a);
            }
            switch (a) {
                case "--host" -> host = args[++i];
                case "--port" -> port = Integer.parseInt(args[++i]);
                case "--h2-file" -> h2File = args[++i];
                case "--wire-version" -> wireVersion = Integer.parseInt(args[++i]);
                default -> usage("unknown argument " + a);
            }
        }

        MongoBackend backend = (h2File == null) ? new MemoryBackend() : new H2Backend(h2File);
        backend.version(reportedVersion(wireVersion));

        MongoServer server = new MongoServer(backend);
        server.bind(host, port);
        Runtime.getRuntime().addShutdownHook(new Thread(server::shutdownNow));
        System.err.println("mongo-java-server listening on " + server.getLocalAddress()
                + (h2File == null ? " (in-memory)" : " (H2 file " + h2File + ")"));
    }

    // MongoDB release reported for a wire version (hello.maxWireVersion / buildInfo.version).
    private static MongoVersion reportedVersion(int wireVersion) {
        Map<Integer, List<Integer>> releases = Map.of(
                9, List.of(4, 4, 0), 13, List.of(5, 0, 0), 17, List.of(6, 0, 0), 21, List.of(7, 0, 0));
        List<Integer> release = releases.get(wireVersion);
        if (release == null) {
            usage("--wire-version must be one of " + releases.keySet());
        }
        return new MongoVersion() {
            @Override
            public List<Integer> getVersionArray() {
                return release;
            }

            @Override
            public int getWireVersion() {
                return wireVersion;
            }
        };
    }

    private static void usage(String msg) {
        System.err.println(msg);
        System.err.println("usage: MongoJavaServer [--host 127.0.0.1] [--port 27017] [--h2-file <path.mv>] [--wire-version 9]");
        System.exit(2);
    }
}
