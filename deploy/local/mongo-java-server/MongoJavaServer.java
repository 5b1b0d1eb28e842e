// Launcher for de.bwaldvogel:mongo-java-server with a configurable address, a server version
// that current PyMongo accepts, and a buildInfo that says which server this really is.
//
// Why: the stock main classes (de.bwaldvogel.mongo.InMemoryMongoServer, H2MongoServer)
// bind to localhost:27017 with no way to change it, and report maxWireVersion 8
// (its ServerVersion.MONGO_5_0, the newest enum value, carries wire version 8), which
// PyMongo 4.20 refuses ("requires at least 9 (MongoDB 4.4)"). The version is only
// reported in hello/buildInfo (it switches no behaviour), so this launcher reports a
// custom MongoVersion: wire version 9 / "4.4.0" by default (--wire-version to change).
// buildInfo also carries `mongoJavaServerVersion` (read from the core jar's file name) and
// `mongoJavaServerBackend` (`h2` or `memory`), so clients can name the server they talk to.
//
// Run as a single-file source program (Java 17+, nothing to compile):
//   java -cp '<libs>/*' deploy/local/mongo-java-server/MongoJavaServer.java \
//        [--host 127.0.0.1] [--port 27017] [--h2-file <path.mv>] [--cache-mb 64] [--wire-version 9]
// Without --h2-file the in-memory backend is used. --cache-mb sizes H2's MVStore page cache
// (H2's default is 16 MB). Stop with SIGINT/SIGTERM: the H2 file is committed and closed.

import de.bwaldvogel.mongo.MongoBackend;
import de.bwaldvogel.mongo.MongoServer;
import de.bwaldvogel.mongo.MongoVersion;
import de.bwaldvogel.mongo.backend.h2.H2Backend;
import de.bwaldvogel.mongo.backend.memory.MemoryBackend;
import de.bwaldvogel.mongo.bson.Document;
import io.netty.channel.Channel;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.h2.mvstore.MVStore;

public class MongoJavaServer {
    public static void main(String[] args) {
        String host = "127.0.0.1";
        int port = 27017;
        String h2File = null;
        int wireVersion = 9;
        int cacheMb = 64;

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
                case "--cache-mb" -> cacheMb = Integer.parseInt(args[++i]);
                default -> usage("unknown argument " + a);
            }
        }

        MongoBackend backend = (h2File == null) ? memoryBackend() : h2Backend(h2File, cacheMb);
        backend.version(reportedVersion(wireVersion));

        MongoServer server = new MongoServer(backend);
        server.bind(host, port);
        Runtime.getRuntime().addShutdownHook(new Thread(server::shutdownNow));
        System.err.println("mongo-java-server listening on " + server.getLocalAddress()
                + (h2File == null ? " (in-memory)" : " (H2 file " + h2File + ")"));
    }

    private static MongoBackend memoryBackend() {
        return new MemoryBackend() {
            @Override
            public Document handleCommand(Channel channel, String db, String command, Document query) {
                return describe(super.handleCommand(channel, db, command, query), command, "memory");
            }
        };
    }

    private static MongoBackend h2Backend(String file, int cacheMb) {
        MVStore store = new MVStore.Builder().fileName(file).cacheSize(cacheMb).open();
        return new H2Backend(store) {
            @Override
            public Document handleCommand(Channel channel, String db, String command, Document query) {
                return describe(super.handleCommand(channel, db, command, query), command, "h2");
            }
        };
    }

    // buildInfo names the real server next to the MongoDB version it reports.
    private static Document describe(Document reply, String command, String backend) {
        if (reply != null && command.equalsIgnoreCase("buildInfo")) {
            reply.put("mongoJavaServerVersion", libraryVersion());
            reply.put("mongoJavaServerBackend", backend);
        }
        return reply;
    }

    // The version of the mongo-java-server jars on the class path, from the core jar's name
    // (`mongo-java-server-core-1.47.0.jar`, as Maven copies it); "unknown" otherwise.
    private static String libraryVersion() {
        try {
            Path jar = Path.of(MongoServer.class.getProtectionDomain().getCodeSource().getLocation().toURI());
            Matcher m = Pattern.compile("mongo-java-server-core-(.+)\\.jar").matcher(jar.getFileName().toString());
            return m.matches() ? m.group(1) : "unknown";
        } catch (Exception e) {
            return "unknown";
        }
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
        System.err.println("usage: MongoJavaServer [--host 127.0.0.1] [--port 27017] [--h2-file <path.mv>] [--cache-mb 64] [--wire-version 9]");
        System.exit(2);
    }
}
