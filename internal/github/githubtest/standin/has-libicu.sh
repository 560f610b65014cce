#!/bin/sh
# has-libicu.sh - exits 0 when the system has ICU's common library. The real
# runner is a .NET program that aborts at start without libicu, and its
# config.sh checks for it (`ldconfig -NXv | grep libicu`); the stand-in, a
# shell script, looks for the library's file in the loader's usual folders,
# which busybox systems without ldconfig can answer too.
for d in ${LD_LIBRARY_PATH:-} /lib /usr/lib /lib64 /usr/lib64 /lib/*-linux-gnu /usr/lib/*-linux-gnu /usr/local/lib; do
	for f in "$d"/libicuuc.so*; do
		[ -e "$f" ] && exit 0
	done
done
exit 1
