#!/usr/bin/env bash
# Regenerates bash, zsh and fish completion scripts from the built tools (swift-argument-parser's
# --generate-completion-script). Usage: completions/generate.sh BINDIR [OUTDIR]
set -euo pipefail
bin=${1:?usage: completions/generate.sh BINDIR [OUTDIR]}
out=${2:-$(dirname "$0")}
mkdir -p "$out/bash" "$out/zsh" "$out/fish"
for tool in vmi-regs vmi-watch vmi-step vmi-evtchn vmi-gic-dump; do
    "$bin/$tool" --generate-completion-script bash > "$out/bash/$tool"
    "$bin/$tool" --generate-completion-script zsh > "$out/zsh/_$tool"
    "$bin/$tool" --generate-completion-script fish > "$out/fish/$tool.fish"
done
