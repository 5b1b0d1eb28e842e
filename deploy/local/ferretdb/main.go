// Command ferretdb-local runs an embedded FerretDB 1.x (SQLite or PostgreSQL backend) as a
// MongoDB wire-protocol server. The local stack no longer uses it (it runs mongo-java-server);
// it is kept to repeat the comparison of `python -m bench.mongo_servers`.
//
// Build:           go build -o ferretdb-local .
// Run (SQLite):     ./ferretdb-local -listen-addr 127.0.0.1:27019 -sqlite-dir /tmp/ferretdb-data
// Run (PostgreSQL): ./ferretdb-local -listen-addr 127.0.0.1:27020 -postgresql-url postgres://...
//
// The embedded FerretDB package (github.com/FerretDB/FerretDB/ferretdb) never
// starts the telemetry reporter and explicitly disables and locks telemetry in
// ferretdb.New; FERRETDB_TELEMETRY=disable is set here as well for belt and braces.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "ferretdb-local:", err)
		os.Exit(1)
	}
}

func run() error {
	listenAddr := flag.String("listen-addr", "127.0.0.1:27017", "TCP address to listen on (host:port)")
	sqliteDir := flag.String("sqlite-dir", "", "directory for SQLite database files, one file per database (required; created if missing)")
	pgURL := flag.String("postgresql-url", "", "PostgreSQL URL (uses the postgresql handler instead of sqlite)")
	logLevel := flag.String("log-level", "info", "log level: debug, info, warn or error")
	flag.Parse()

	if flag.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %v", flag.Args())
	}

	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("bad -log-level %q: %w", *logLevel, err)
	}

	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	slog.SetDefault(logger)

	_ = os.Setenv("FERRETDB_TELEMETRY", "disable")

	handler, sqliteURL := "postgresql", ""
	if *pgURL == "" {
		handler = "sqlite"
		if strings.TrimSpace(*sqliteDir) == "" {
			return errors.New("-sqlite-dir or -postgresql-url is required")
		}

		dir, err := filepath.Abs(*sqliteDir)
		if err != nil {
			return fmt.Errorf("resolving -sqlite-dir: %w", err)
		}

		if err = os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("creating -sqlite-dir: %w", err)
		}

		// FerretDB requires a "file:" URI whose path is an existing directory and ends with "/".
		// url.URL escapes unusual characters in the path; OmitHost gives "file:/abs/dir/".
		sqliteURL = (&url.URL{Scheme: "file", Path: strings.TrimSuffix(dir, "/") + "/", OmitHost: true}).String()
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	f, err := ferretdb.New(&ferretdb.Config{
		Listener: ferretdb.ListenerConfig{
			TCP: *listenAddr,
		},
		Logger:        logger,
		Handler:       handler,
		SQLiteURL:     sqliteURL,
		PostgreSQLURL: *pgURL,
	})
	if err != nil {
		return err
	}

	logger.Info("starting FerretDB", "listen_addr", *listenAddr, "handler", handler)

	// Run blocks until ctx is cancelled (SIGINT/SIGTERM), then closes the
	// listener, all client connections and the SQLite backend.
	if err = f.Run(ctx); err != nil {
		return err
	}

	logger.Info("FerretDB stopped")

	return nil
}
