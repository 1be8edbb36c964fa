#!/usr/bin/env bash
# Builds the project's local NuGet feed (install/local-packages/feed): packages the registry here does not serve.
# Idempotent: skips a package that is already in the feed.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
feed="$root/install/local-packages/feed"
mkdir -p "$feed"
if [ -f "$feed/librdkafka.redist.1.9.2.nupkg" ]; then
  echo "local feed: librdkafka.redist 1.9.2 already built"
  exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$root"/install/librdkafka-redist-stub/* "$work/"
# Packed outside the repository so the repo's Directory.Build.props and nuget.config do not apply to the stub.
(cd "$work" && dotnet pack librdkafka.redist.csproj -c Release -o "$feed" --nologo -v q)
echo "local feed: built librdkafka.redist 1.9.2 into $feed"
