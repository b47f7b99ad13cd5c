#!/usr/bin/env bash
# System packages loanflow's tests and tools need beyond Python: a CJK font (contract PDFs in
# Chinese, synthetic ID-card images for the OCR tests). Installs them on Debian/Ubuntu when run as
# root and they are missing; otherwise says what to install.
set -euo pipefail
fonts=(/usr/share/fonts/truetype/wqy/wqy-microhei.ttc)
missing=0
for f in "${fonts[@]}"; do [ -f "$f" ] || missing=1; done
[ "$missing" -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
  echo "installing fonts-wqy-microhei (CJK font for contracts and OCR test documents)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq fonts-wqy-microhei >/dev/null
else
  echo "warning: fonts-wqy-microhei is missing; install it (apt-get install fonts-wqy-microhei)" >&2
fi
