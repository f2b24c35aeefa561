use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = billforge::cli::Cli::parse();
    let (mut stdin, is_terminal) = billforge::cli::process_stdin();
    let env = |name: &str| std::env::var(name).ok();
    match billforge::cli::execute(cli, &env, &mut stdin, is_terminal).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("billforge: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
