// `xdskit ca init` / `xdskit ca issue`: a self-signed root on disk, and workload certificates from it.
import { createCertificateAuthority, writeWorkloadFiles } from "@xdskit/certs";
import type { Command } from "commander";
import { CliError, type CliIo } from "./cli-io.js";

export function addCaCommands(program: Command, io: CliIo, examples: (...lines: string[]) => string): void {
  const ca = program
    .command("ca")
    .description("a certificate authority for SPIFFE workload identities (Istio's Citadel)")
    .addHelpText(
      "after",
      examples(
        "xdskit ca init --dir ./ca",
        "xdskit ca issue --dir ./ca -n default --service-account bookinfo-reviews --out ./certs/reviews",
      ),
    );
  ca.command("init")
    .description("create a self-signed root CA in a directory (or show the one already there)")
    .requiredOption("--dir <dir>", "where the root certificate and key (mode 0600) live")
    .option("--trust-domain <domain>", "the SPIFFE trust domain", "cluster.local")
    .addHelpText("after", examples("xdskit ca init --dir ./ca", "xdskit ca init --dir ./ca --trust-domain example.org"))
    .action(async (flags: { dir: string; trustDomain: string }) => {
      const authority = await createCertificateAuthority({ dir: flags.dir, trustDomain: flags.trustDomain });
      io.stdout(
        `CA in ${flags.dir}: trust domain ${authority.trustDomain}, root valid until ${authority.notAfter.toISOString()}\n`,
      );
    });
  ca.command("issue")
    .description("issue a workload certificate: cert-chain.pem, key.pem (0600), root-cert.pem")
    .requiredOption("--dir <dir>", "the CA directory (from ca init)")
    .requiredOption("-n, --namespace <namespace>", "the workload's namespace")
    .requiredOption("--service-account <name>", "the workload's service account")
    .requiredOption("--out <dir>", "where to write the files")
    .option("--ttl <seconds>", "lifetime in seconds", "86400")
    .option("--trust-domain <domain>", "the SPIFFE trust domain", "cluster.local")
    .addHelpText(
      "after",
      examples(
        "xdskit ca issue --dir ./ca -n default --service-account bookinfo-ratings --out ./certs/ratings --ttl 3600",
      ),
    )
    .action(
      async (flags: {
        dir: string;
        namespace: string;
        serviceAccount: string;
        out: string;
        ttl: string;
        trustDomain: string;
      }) => {
        const ttlSeconds = Number(flags.ttl);
        if (!Number.isInteger(ttlSeconds) || ttlSeconds <= 0)
          throw new CliError(`--ttl ${flags.ttl}: expected seconds > 0`);
        const authority = await createCertificateAuthority({ dir: flags.dir, trustDomain: flags.trustDomain });
        const issued = await authority.issue({
          namespace: flags.namespace,
          serviceAccount: flags.serviceAccount,
          ttlSeconds,
        });
        const paths = await writeWorkloadFiles(flags.out, issued);
        io.stdout(
          `${issued.spiffeId} until ${issued.notAfter.toISOString()}: ${paths.certificateChain}, ${paths.privateKey}, ${paths.rootCertificates}\n`,
        );
      },
    );
  for (const command of ca.commands) command.exitOverride();
}
