import Synthesis

extension SynthesisOptions {
    /// Where the benchmarks keep the synthetic input for these options: each option that changes
    /// the data changes the folder, so a messier population is never read from another's files.
    func benchFolder(in dir: String) -> String {
        let standard = SynthesisOptions(people: people, seed: seed, asOf: asOf)
        var folder = "\(dir)/input-\(people)-\(seed)"
        if signal != standard.signal { folder += "-\(signal.rawValue)" }
        if identities != standard.identities { folder += "-\(identities.rawValue)" }
        if onsets != standard.onsets { folder += "-\(onsets.rawValue)" }
        if faultRate != standard.faultRate { folder += "-faults\(faultRate)" }
        if let intervention { folder += "-intervention\(intervention.effect)" }
        return folder
    }
}
