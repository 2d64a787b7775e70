//! `tse deploy compose` and `tse deploy k8s`: a deployment generated from a topology
//! ([`crate::deploy`]), and what to do with it next.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::topology_or_default;
use crate::failure::Failure;

#[derive(Debug, Subcommand)]
pub(crate) enum DeployCommand {
    /// A Docker Compose project: one container per instance (named after it, its own data and log
    /// volumes, its settings from the topology), PostgreSQL, Redis, Prometheus and Grafana; ports
    /// published on 127.0.0.1 only. Then: `docker build -t tse:latest .` in the repository and
    /// `docker compose up -d` in DIR.
    Compose(ComposeArgs),
    /// Kubernetes manifests (`DIR/tse.yaml`): namespace `tse`, a Secret and the topology ConfigMap,
    /// PostgreSQL and Redis, one StatefulSet (own data and log volumes, readiness and liveness
    /// probes) and one Service per instance. Then: `kubectl apply -f DIR/tse.yaml`.
    K8s(ComposeArgs),
}

#[derive(Debug, Args)]
pub(crate) struct ComposeArgs {
    /// Topology file; default: the default ecosystem
    #[arg(long, value_name = "FILE")]
    topology: Option<PathBuf>,
    /// Directory to write the project to (created)
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Image the containers run
    #[arg(long, value_name = "IMAGE", default_value = crate::deploy::DEFAULT_IMAGE)]
    image: String,
}

/// Generates the deployment `command` asks for.
pub(crate) fn run(command: &DeployCommand) -> Result<(), Failure> {
    match command {
        DeployCommand::Compose(args) => compose(args),
        DeployCommand::K8s(args) => k8s(args),
    }
}

fn compose(args: &ComposeArgs) -> Result<(), Failure> {
    let (topology, source) = topology_or_default(args.topology.as_ref())?;
    let instances = crate::deploy::compose_project(&topology, &source, &args.out, &args.image)?;
    println!(
        "wrote a Compose project of {} instances to {}: `docker build -t {} .` in the repository, then \
         `docker compose up -d` there (secrets in {}/.env)",
        instances.len(),
        args.out.display(),
        args.image,
        args.out.display()
    );
    Ok(())
}

fn k8s(args: &ComposeArgs) -> Result<(), Failure> {
    let (topology, source) = topology_or_default(args.topology.as_ref())?;
    let count = crate::deploy::kubernetes_manifests(&topology, &source, &args.out, &args.image)?;
    println!(
        "wrote Kubernetes manifests of {count} instances to {}: push the image `{}` where the cluster \
         pulls from, then `kubectl apply -f {}` (secrets in {}; scrape configuration, rules and \
         dashboards for the cluster's Prometheus and Grafana under {})",
        args.out.join("tse.yaml").display(),
        args.image,
        args.out.join("tse.yaml").display(),
        args.out.join("secrets.env").display(),
        args.out.display()
    );
    Ok(())
}
