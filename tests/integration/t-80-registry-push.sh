#!/usr/bin/env bash
# kiln build -o docker://... pushes straight to a real registry (distribution 2.8)
# over plain http, https with a private CA, https + Basic auth and token auth;
# docker (a real dockerd), skopeo, podman and `kiln copy` pull it back and see
# the same manifest digest, and the image runs.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/registry/lib-registry.sh"
need_root
need_kiln_registry
need skopeo podman jq curl
[ -x /bin/busybox ] || _missing busybox
start_dockerd
setup_podman

TEXT="hello from kiln through a registry"
reg_rootfs "$T/rootfs" "$TEXT"

for MODE in ${KILN_REGISTRY_MODES:-plain tls basic token}; do
  say "=== $MODE"
  start_registry "$MODE"
  registry_docker_setup
  IMG=$REG/team/app:1.0

  say "$MODE: kiln build -o docker://$IMG -o oci:"
  run "$KILN" build --rootfs "$T/rootfs" --entrypoint '["/bin/cat"]' --cmd '["/hello.txt"]' \
    --source-date-epoch 1700000000 \
    -o "docker://$IMG" -o "oci:$T/local-$MODE:1.0" "${REG_KILN_FLAGS[@]}"
  if [ "$RC" -ne 0 ]; then
    not_ok "$MODE: kiln build -o docker:// exits 0 (rc=$RC)" "$ERR"
    stop_registry; continue
  fi
  ok "$MODE: kiln build -o docker:// exits 0"
  DIGEST=$OUT
  # the summary line (stderr is no terminal): a time, and a rate only if one could be measured
  PLINE=$(grep ' blobs, ' <<<"$ERR" || true)
  assert_match "^kiln: $REG/team/app: ([0-9]+)/[0-9]+ blobs, [0-9.]+ [kMG]?B / [0-9.]+ [kMG]?B in [0-9]+\.[0-9]+ s(, [0-9.]+ [kMG]?B/s)?\$" \
    "$PLINE" "$MODE: the progress summary says how long the push took"
  assert_eq "" "$(grep -E ', 0 B/s|in 0\.0[0-4] s, ' <<<"$PLINE" || true)" "$MODE: no rate made up for a push too short to measure"
  assert_match '^sha256:[0-9a-f]{64}$' "$DIGEST" "$MODE: stdout is exactly one digest"
  assert_eq "$(layout_manifest_digest "$T/local-$MODE" 1.0)" "$DIGEST" "$MODE: pushed digest = the oci: output's digest"
  assert_eq 1 "$(registry_request_count '^PUT /v2/team/app/manifests/1\.0$')" "$MODE: one manifest PUT by tag"

  say "$MODE: what the registry stores"
  H=$(REG_SCOPE="repository:team/app:pull" reg_curl /v2/team/app/manifests/1.0 -D - -o "$T/reg-manifest-$MODE" \
      -H 'Accept: application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json')
  assert_eq "$DIGEST" "$(printf '%s' "$H" | tr -d '\r' | sed -n 's/^[Dd]ocker-[Cc]ontent-[Dd]igest: //p')" \
    "$MODE: registry's Docker-Content-Digest = printed digest"
  assert_eq "$DIGEST" "$(sha256_digest "$T/reg-manifest-$MODE")" "$MODE: sha256 of the stored manifest bytes = digest"
  assert_same_file "$(blob "$T/local-$MODE" "$DIGEST")" "$T/reg-manifest-$MODE" "$MODE: stored manifest = local manifest, byte for byte"
  CT=$(printf '%s' "$H" | tr -d '\r' | sed -n 's/^[Cc]ontent-[Tt]ype: //p')
  assert_eq "$(jq -r .mediaType "$T/reg-manifest-$MODE")" "$CT" "$MODE: manifest Content-Type = its mediaType"

  say "$MODE: skopeo"
  run skopeo inspect "${REG_SKOPEO_FLAGS[@]}" "docker://$IMG"
  assert_eq 0 "$RC" "$MODE: skopeo inspect exits 0"; [ "$RC" -eq 0 ] || say "$ERR"
  assert_eq "$DIGEST" "$(printf '%s' "$OUT" | jq -r .Digest 2>/dev/null)" "$MODE: skopeo's Digest = printed digest"
  run skopeo inspect --config "${REG_SKOPEO_FLAGS[@]}" "docker://$IMG"
  assert_eq '["/bin/cat"] ["/hello.txt"]' "$(printf '%s' "$OUT" | jq -c '.config.Entrypoint, .config.Cmd' 2>/dev/null | tr '\n' ' ' | sed 's/ $//')" \
    "$MODE: skopeo sees the config's Entrypoint and Cmd"
  mapfile -t S < <(reg_skopeo_flags src-)
  run skopeo copy "${S[@]}" "docker://$IMG" "oci:$T/skopeo-$MODE:1.0"
  assert_eq 0 "$RC" "$MODE: skopeo copy docker:// → oci: exits 0"; [ "$RC" -eq 0 ] || say "$ERR"
  check "$MODE: every blob skopeo pulled hashes to its name" verify_layout_blobs "$T/skopeo-$MODE"

  say "$MODE: docker pull + run"
  run docker_reg pull "$IMG"
  assert_eq 0 "$RC" "$MODE: docker pull exits 0"; [ "$RC" -eq 0 ] || say "$ERR"
  run docker_reg image inspect --format '{{join .RepoDigests " "}}' "$IMG"
  assert_contains "$REG/team/app@$DIGEST" "$OUT" "$MODE: docker's RepoDigests has the pushed digest"
  run docker_reg run --rm --network none "$IMG"
  assert_eq "0 $TEXT" "$RC $OUT" "$MODE: docker run prints the text file"
  run docker_reg pull "$REG/team/app@$DIGEST"
  assert_eq 0 "$RC" "$MODE: docker pull by digest exits 0"

  say "$MODE: podman pull + run"
  run podman_ pull "${REG_SKOPEO_FLAGS[@]}" "docker://$IMG"
  assert_eq 0 "$RC" "$MODE: podman pull exits 0"; [ "$RC" -eq 0 ] || say "$ERR"
  run podman_ image inspect --format '{{.Digest}}' "$IMG"
  assert_eq "$DIGEST" "$OUT" "$MODE: podman's image digest = printed digest"
  run podman_ "${PODMAN_RUN[@]}" "$IMG"
  assert_eq "0 $TEXT" "$RC $OUT" "$MODE: podman run prints the text file"

  say "$MODE: kiln copy docker:// → oci:"
  run "$KILN" copy "${REG_KILN_FLAGS[@]}" "docker://$IMG" "oci:$T/back-$MODE:1.0"
  assert_eq 0 "$RC" "$MODE: kiln copy docker:// → oci: exits 0"; [ "$RC" -eq 0 ] || say "$ERR"
  assert_eq "$DIGEST" "$OUT" "$MODE: kiln copy prints the same digest"
  if [ -f "$T/back-$MODE/index.json" ]; then
    assert_eq "$DIGEST" "$(layout_manifest_digest "$T/back-$MODE" 1.0)" "$MODE: pulled layout's 1.0 → the pushed digest"
    check "$MODE: every pulled blob hashes to its name" verify_layout_blobs "$T/back-$MODE"
    assert_eq "$(cd "$T/local-$MODE/blobs/sha256" && ls | sort | tr '\n' ' ')" \
      "$(cd "$T/back-$MODE/blobs/sha256" && ls | sort | tr '\n' ' ')" "$MODE: the pulled layout has exactly the built blobs"
  else
    not_ok "$MODE: kiln copy wrote an OCI layout" "no $T/back-$MODE/index.json"
  fi
  run "$KILN" digest "${REG_KILN_FLAGS[@]}" "docker://$IMG"
  assert_eq "0 $DIGEST" "$RC $OUT" "$MODE: kiln digest docker://"

  if [ -n "$REG_USER" ]; then
    say "$MODE: without credentials the registry refuses"
    run "$KILN" build --rootfs "$T/rootfs" ${REG_CA:+--ca-file "$REG_CA"} -o "docker://$REG/team/app:nocreds"
    assert_eq 1 "$RC" "$MODE: push without credentials exits 1"
    assert_eq 404 "$(reg_manifest_status team/app nocreds)" "$MODE: and tags nothing"
  fi
  stop_registry
done
