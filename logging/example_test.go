package logging_test

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/wshub/wshub/core"
	"github.com/wshub/wshub/logging"
)

func ExampleNewZap() {
	// A JSON encoder without timestamps, so the output is the same each run.
	// In an application, pass zap.NewProduction() or your own logger.
	enc := zapcore.NewJSONEncoder(zapcore.EncoderConfig{
		LevelKey:       "level",
		MessageKey:     "msg",
		EncodeLevel:    zapcore.LowercaseLevelEncoder,
		EncodeDuration: zapcore.StringDurationEncoder,
	})
	zl := zap.New(zapcore.NewCore(enc, zapcore.AddSync(os.Stdout), zapcore.InfoLevel))

	logger := logging.NewZap(zl)
	defer func() { _ = logger.Sync() }()

	var log core.Logger = logger // what core.WithLogger takes
	log.Debug("not shown: below the core's level")
	log.Info("client connected", "client_id", "c1", "handshake", 1500*time.Microsecond)
	log.Error("write failed", "client_id", "c1", "error", errors.New("broken pipe"))
	// Output:
	// {"level":"info","msg":"client connected","client_id":"c1","handshake":"1.5ms"}
	// {"level":"error","msg":"write failed","client_id":"c1","error":"broken pipe"}
}

func ExampleNewZap_observer() {
	// zaptest/observer records entries in memory, for tests of code that logs.
	obs, logs := observer.New(zapcore.WarnLevel)
	log := logging.NewZap(zap.New(obs))

	log.Info("ignored")
	log.Warn("slow consumer", "client_id", "c7", "queued", 256)

	for _, e := range logs.AllUntimed() {
		fmt.Println(e.Level, e.Message, e.ContextMap())
	}
	// Output:
	// warn slow consumer map[client_id:c7 queued:256]
}

func ExampleNewSlog() {
	// A JSON handler that drops the time attribute, so the output is the
	// same each run.
	h := slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	})

	log := logging.NewSlog(slog.New(h))
	log.Debug("not shown: below the handler's level")
	log.Warn("rate limit exceeded", "client_id", "c1", "limit", 100)
	// Output:
	// {"level":"WARN","msg":"rate limit exceeded","client_id":"c1","limit":100}
}

func ExampleZapLogger_Named() {
	// zap writes the name under its encoder's NameKey.
	enc := zapcore.NewJSONEncoder(zapcore.EncoderConfig{
		LevelKey:    "level",
		NameKey:     "logger",
		MessageKey:  "msg",
		EncodeLevel: zapcore.LowercaseLevelEncoder,
	})
	logger := logging.NewZap(zap.New(zapcore.NewCore(enc, zapcore.AddSync(os.Stdout), zapcore.InfoLevel)).Named("app"))

	// core.WithLogger names the hub's logger "wshub"; the NATS module names
	// its own "wshub.nats".
	core.Named(logger, "wshub").Info("draining", "clients", 2)
	core.Named(logger, "wshub.nats").Warn("broker unreachable; serving local clients and retrying")
	// Output:
	// {"level":"info","logger":"app.wshub","msg":"draining","clients":2}
	// {"level":"warn","logger":"app.wshub.nats","msg":"broker unreachable; serving local clients and retrying"}
}

func ExampleSlogLogger_Named() {
	// slog has no logger names: the name is the attribute "logger".
	h := slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	})
	logger := logging.NewSlog(slog.New(h))

	core.Named(logger, "wshub").Info("draining", "clients", 2)
	core.Named(core.Named(logger, "wshub"), "redis").Warn("go-redis", "redis", "dial tcp: connection refused")
	// Output:
	// {"level":"INFO","msg":"draining","logger":"wshub","clients":2}
	// {"level":"WARN","msg":"go-redis","logger":"wshub.redis","redis":"dial tcp: connection refused"}
}
