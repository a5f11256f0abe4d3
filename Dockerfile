# Builds the single dbop binary with `deno task compile` on the official Deno
# image (on the build machine's own platform, cross-compiling for the target),
# then ships only that binary on distroless: no shell, non-root.
FROM --platform=$BUILDPLATFORM denoland/deno:2.9.6 AS build
ARG TARGETARCH
WORKDIR /src
COPY deno.json deno.lock ./
RUN deno install --frozen
COPY . .
RUN case "${TARGETARCH:-amd64}" in \
      amd64) target=x86_64-unknown-linux-gnu ;; \
      arm64) target=aarch64-unknown-linux-gnu ;; \
      *) echo "unsupported architecture ${TARGETARCH}" >&2; exit 1 ;; \
    esac && DBOP_COMPILE_FLAGS="--target $target" deno task compile

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/dist/dbop /usr/local/bin/dbop
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/dbop"]
CMD ["run"]
