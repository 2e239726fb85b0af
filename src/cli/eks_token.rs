//! `berth eks-token CLUSTER`: the token berth uses for EKS, for the user's own tools. As an
//! `ExecCredential` document (what kubectl reads from an exec plugin), or with
//! `--kubeconfig` a whole kubeconfig whose exec plugin is berth itself, so that kubectl
//! works against an EKS cluster with no aws CLI installed.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::{Cli, EksTokenArgs};
use crate::eks::connect;
use crate::eks::token;
use crate::error::{ExitCode, Result};
use crate::output::Printer;
use crate::output::result::RunResult;

pub async fn run(
    cli: &Cli,
    printer: &Arc<Printer>,
    args: &EksTokenArgs,
) -> Result<(Option<RunResult>, ExitCode)> {
    let config = super::wiring::Adapters::new(cli)
        .configs
        .get(&Default::default())
        .await?;
    if args.kubeconfig {
        let (endpoint, ca_pem) = connect::describe(&config, &args.cluster).await?;
        let region = config.region().map(|r| r.to_string()).unwrap_or_default();
        let exe = std::env::current_exe()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|_| "berth".into());
        let mut exec_args = vec![
            "eks-token".to_string(),
            args.cluster.clone(),
            "--region".into(),
            region,
        ];
        if let Some(p) = &cli.global.profile {
            exec_args.extend(["--profile".to_string(), p.clone()]);
        }
        let doc = serde_json::json!({
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": args.cluster, "cluster": {
                "server": endpoint,
                "certificate-authority-data": STANDARD.encode(&ca_pem),
            }}],
            "users": [{"name": format!("berth-{}", args.cluster), "user": {"exec": {
                "apiVersion": "client.authentication.k8s.io/v1beta1",
                "command": exe,
                "args": exec_args,
                "interactiveMode": "Never",
                "provideClusterInfo": false,
            }}}],
            "contexts": [{"name": args.cluster, "context": {
                "cluster": args.cluster,
                "user": format!("berth-{}", args.cluster),
            }}],
            "current-context": args.cluster,
        });
        // JSON is YAML: kubectl reads it as a kubeconfig as it is.
        printer.raw(&format!(
            "{}\n",
            serde_json::to_string_pretty(&doc).expect("json")
        ));
        return Ok((None, ExitCode::Success));
    }
    let t = connect::eks_token(&config, &args.cluster).await?;
    // The user asked for the token on stdout: that is the one place it goes.
    printer.raw(&format!("{}\n", token::exec_credential(&t)));
    Ok((None, ExitCode::Success))
}
