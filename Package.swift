// swift-tools-version:6.1
import PackageDescription

let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "phm",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "phm", targets: ["phm"]),
        .library(name: "PHMCore", targets: ["PHMCore"]),
        .library(name: "Pipeline", targets: ["Pipeline"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.3"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        // Settings from the environment and a configuration file (JSON is read by the platform's own
        // checks first, so no file format trait is needed).
        .package(url: "https://github.com/apple/swift-configuration", from: "1.4.0", traits: []),
        // Spark Connect: gRPC over HTTP/2 and protocol buffers, for the event-scale stages on Spark.
        .package(url: "https://github.com/grpc/grpc-swift-2", from: "2.4.3"),
        .package(url: "https://github.com/grpc/grpc-swift-nio-transport", from: "2.9.2"),
        .package(url: "https://github.com/grpc/grpc-swift-protobuf", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0", traits: []),
    ],
    targets: [
        // Pure domain: dates, codes, the columnar population. No I/O, no dependencies.
        .target(name: "PHMCore", swiftSettings: strict),
        // The output contract: every published table's row type and file name, and the reports
        // (run summary, reconciliation, linkage, codes, models). Writers write these; pages read them.
        .target(name: "Outputs", dependencies: ["PHMCore"], swiftSettings: strict),
        // FHIR R4: the JSON tape parser, the UK Core vocabulary, and the resources the platform writes.
        .target(name: "FHIR", dependencies: ["PHMCore"], swiftSettings: strict),
        // Reading a folder of extracts: CSV from bytes, FHIR Bulk Data exports, validation,
        // quarantine, reconciliation.
        .target(name: "Ingest", dependencies: ["PHMCore", "Outputs", "FHIR", "CZlib"], swiftSettings: strict),
        // zlib, for an export's gzip-compressed files (scripts/requirements installs its headers).
        .systemLibrary(name: "CZlib", path: "Sources/CZlib", providers: [.apt(["zlib1g-dev"])]),
        // NHS numbers, linkage to the GP spine, pseudonymisation, the identity vault's records.
        .target(
            name: "Identity",
            dependencies: ["PHMCore", "Outputs", "Ingest", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: strict),
        // Code lists, condition definitions and scores: which conditions each person has.
        .target(
            name: "Conditions",
            dependencies: ["PHMCore", .product(name: "Yams", package: "Yams")],
            resources: [.copy("Library")],
            swiftSettings: strict),
        // Planning analyses at every level: segments, multimorbidity, inequalities, variation, SPC, suppression.
        .target(
            name: "Analysis", dependencies: ["PHMCore", "Conditions", "Cohorts"],
            resources: [.copy("Library")], swiftSettings: strict),
        // Risk models: features and outcomes at an index date, training, evaluation, tiers and rising risk.
        // Optimised in debug builds too: training in an unoptimised test build would take minutes.
        .target(
            name: "Risk", dependencies: ["PHMCore", "Outputs", "Conditions"],
            swiftSettings: strict + [.unsafeFlags(["-O"], .when(configuration: .debug))]),
        // Twenty years ahead: a multistate projection of multimorbidity estimated from the
        // history. Optimised in debug builds too, as Risk is: its draws are millions of steps.
        .target(
            name: "Projections", dependencies: ["PHMCore", "Outputs", "Conditions"],
            swiftSettings: strict + [.unsafeFlags(["-O"], .when(configuration: .debug))]),
        // The person frame of a run, and cohorts over it: the definition language, bitset
        // evaluation, profiles, care gaps and worklists.
        .target(
            name: "Cohorts", dependencies: ["PHMCore", "Conditions"],
            resources: [.copy("Library")], swiftSettings: strict),
        // Did an intervention work? Matched comparison groups on a propensity score, balance
        // diagnostics, and differences in differences with bootstrap intervals. Optimised in debug
        // builds too, as Risk is: it scores a whole population at every index month.
        .target(
            name: "Evaluation", dependencies: ["PHMCore", "Conditions", "Risk", "Cohorts", "Analysis"],
            swiftSettings: strict + [.unsafeFlags(["-O"], .when(configuration: .debug))]),
        // Roles, purposes and the access policy; data sharing settings; password hashing; the
        // hash-chained audit log.
        .target(
            name: "Governance",
            dependencies: [
                "PHMCore", .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
            ],
            swiftSettings: strict),
        // The store: runs and results, users, sessions, cohorts, worklists, the audit log, on
        // SQLite in the data directory or on PostgreSQL; and the identity vault.
        .target(
            name: "Storage",
            dependencies: [
                "PHMCore", "Governance", .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "PostgresNIO", package: "postgres-nio"), .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict),
        // A run's planning tables published to PostgreSQL as typed tables for BI tools.
        .target(
            name: "PostgresStore",
            dependencies: [
                "Outputs", "Storage", .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict),
        // Data-quality gates: rules from a YAML file that stop a run whose figures look wrong.
        // Apart from Pipeline, so the fuzzers reach them without building the store and its crypto.
        .target(name: "Gates", dependencies: ["PHMCore", "Outputs", "Ingest", "Conditions"], swiftSettings: strict),
        // Arrow IPC streams read from bytes: the columns of a Spark Connect result. Apart, so the
        // fuzzers reach it without building gRPC.
        .target(name: "ArrowIPC", swiftSettings: strict),
        // A Spark Connect client: Spark's gRPC protocol (messages generated from its .proto files by
        // scripts/generate-spark-connect) and results as Arrow IPC record batches.
        .target(
            name: "SparkConnect",
            dependencies: [
                "ArrowIPC", .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2Posix", package: "grpc-swift-nio-transport"),
                .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            swiftSettings: strict),
        // The event-scale stages as Spark plans: the contract's files read and checked where they lie.
        .target(
            name: "SparkEngine",
            dependencies: ["SparkConnect", "ArrowIPC", "Ingest", "Identity", "Outputs", "PHMCore", "Conditions"],
            swiftSettings: strict),
        // A realistic synthetic health system that follows the input contract.
        .target(name: "Synthesis", dependencies: ["PHMCore", "FHIR"], swiftSettings: strict),
        // One run: ingest, identify, build the population, write the outputs.
        .target(
            name: "Pipeline",
            dependencies: [
                "PHMCore", "Outputs", "Ingest", "Identity", "Conditions", "Analysis", "Risk", "Projections", "Cohorts",
                "Evaluation", "Gates", "Governance", "Storage", "Synthesis", .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict),
        // Users working under a purpose: every request checked against the access policy and
        // audited; cohorts, profiles and worklists over the latest run. Shared by CLI and server.
        .target(
            name: "Service",
            dependencies: [
                "PHMCore", "Outputs", "Cohorts", "Evaluation", "Governance", "Storage", "Analysis", "FHIR",
            ],
            swiftSettings: strict),
        // The web server: pages and the JSON API over sessions (Hummingbird).
        .target(
            name: "Web",
            dependencies: [
                "PHMCore", "Outputs", "Service", "Cohorts", "Evaluation", "Governance", "Storage",
                .product(name: "Hummingbird", package: "hummingbird"), .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            resources: [.copy("openapi.json"), .copy("app.js")],
            swiftSettings: strict),
        .target(
            name: "CLI",
            dependencies: [
                "Pipeline", "Outputs", "Identity", "Conditions", "Analysis", "Projections", "Evaluation", "Gates", "Service",
                "Cohorts",
                "Governance", "Web", "PostgresStore",
                .product(name: "Hummingbird", package: "hummingbird"), .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Configuration", package: "swift-configuration"),
            ],
            swiftSettings: strict),
        .executableTarget(name: "phm", dependencies: ["CLI"], swiftSettings: strict),
        // The benchmarks (`phm-bench`): the pipeline, cohorts and JSON on release builds.
        .executableTarget(
            name: "phm-bench",
            dependencies: [
                "CLI", "Cohorts", "Conditions", "Evaluation", "Identity", "Ingest", "Outputs", "PHMCore", "Pipeline", "Risk",
                "Storage",
                "Synthesis", "Web", "SparkConnect", "SparkEngine",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Benchmarks", exclude: ["splink_linkage.py", "duckdb_spine.py"], swiftSettings: strict),
        // The parsers under libFuzzer (scripts/fuzz), or replaying a corpus when built plainly.
        .executableTarget(
            name: "phm-fuzz",
            dependencies: [
                "PHMCore", "Outputs", "Ingest", "Cohorts", "Conditions", "Projections", "Evaluation", "Gates", "ArrowIPC",
            ],
            path: "Fuzz/Sources",
            swiftSettings: strict),

        .target(
            name: "TestSupport",
            dependencies: [
                "PHMCore", "Synthesis", "Cohorts", "Evaluation", "Governance", "Service", "Storage", "PostgresStore",
                .product(name: "Logging", package: "swift-log"), .product(name: "PostgresNIO", package: "postgres-nio"),
            ],
            path: "Tests/TestSupport",
            swiftSettings: strict),
        .testTarget(name: "PHMCoreTests", dependencies: ["PHMCore", "TestSupport"], swiftSettings: strict),
        .testTarget(
            name: "ArrowIPCTests", dependencies: ["ArrowIPC", "TestSupport"], exclude: ["arrow_streams.py"], swiftSettings: strict
        ),
        .testTarget(
            name: "SparkConnectTests",
            dependencies: [
                "SparkConnect", "ArrowIPC", "TestSupport", .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            swiftSettings: strict),
        .testTarget(
            name: "SparkEngineTests",
            dependencies: [
                "SparkEngine", "SparkConnect", "Conditions", "Identity", "Ingest", "Outputs", "PHMCore", "Synthesis",
                "TestSupport",
            ],
            swiftSettings: strict),
        .testTarget(name: "OutputsTests", dependencies: ["Outputs", "PHMCore"], swiftSettings: strict),
        .testTarget(name: "FHIRTests", dependencies: ["FHIR"], exclude: ["validate_fhir.py"], swiftSettings: strict),
        .testTarget(name: "IngestTests", dependencies: ["Ingest", "Outputs", "TestSupport"], swiftSettings: strict),
        .testTarget(name: "IdentityTests", dependencies: ["Identity", "Outputs", "TestSupport"], swiftSettings: strict),
        .testTarget(name: "ConditionsTests", dependencies: ["Conditions", "TestSupport"], swiftSettings: strict),
        .testTarget(
            name: "AnalysisTests", dependencies: ["Analysis", "Cohorts", "Conditions", "TestSupport"], swiftSettings: strict),
        .testTarget(name: "CohortsTests", dependencies: ["Cohorts", "TestSupport"], swiftSettings: strict),
        .testTarget(
            name: "ProjectionsTests", dependencies: ["Projections", "Conditions", "Outputs", "TestSupport"],
            swiftSettings: strict),
        .testTarget(
            name: "ServiceTests",
            dependencies: [
                "Service", "Cohorts", "Evaluation", "Governance", "Storage", "TestSupport",
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: strict),
        .testTarget(
            name: "WebTests",
            dependencies: [
                "Web", "Service", "Cohorts", "Governance", "Storage", "PHMCore", "Analysis", "TestSupport",
                .product(name: "HummingbirdTesting", package: "hummingbird"), .product(name: "Logging", package: "swift-log"),
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: strict),
        .testTarget(
            name: "EvaluationTests", dependencies: ["Evaluation", "Analysis", "PHMCore", "Risk", "TestSupport"],
            swiftSettings: strict),
        .testTarget(name: "RiskTests", dependencies: ["Risk", "Outputs", "Conditions", "TestSupport"], swiftSettings: strict),
        .testTarget(
            name: "StorageTests",
            dependencies: [
                "Storage", "Governance", "PHMCore", "TestSupport", .product(name: "PostgresNIO", package: "postgres-nio"),
            ],
            swiftSettings: strict),
        .testTarget(
            name: "PostgresStoreTests",
            dependencies: [
                "PostgresStore", "Outputs", "PHMCore", "Storage", "Governance", "TestSupport",
                .product(name: "PostgresNIO", package: "postgres-nio"), .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict),
        .testTarget(name: "SynthesisTests", dependencies: ["Synthesis", "TestSupport"], swiftSettings: strict),
        .testTarget(
            name: "PipelineTests",
            dependencies: [
                "Pipeline", "Storage", "Identity", "Synthesis", "CLI", "Cohorts", "Conditions", "Governance", "TestSupport",
                "Web", "Service", "Analysis", "PHMCore", "Outputs", "Projections", "Evaluation", "Gates", "PostgresStore",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict),
    ],
    swiftLanguageModes: [.v6]
)
