#!/usr/bin/env bash
# Fails when a C++ or proto source line is wider than 100 columns.
set -euo pipefail
cd "$(dirname "$0")/.."
wide=$(git ls-files '*.cc' '*.h' '*.proto' | xargs -r awk 'length($0) > 100 {
  print FILENAME ":" FNR ": " length($0) " columns" }')
if [ -n "$wide" ]; then
  echo "$wide"
  exit 1
fi
echo "format-check: every line within 100 columns"
