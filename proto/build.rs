use std::path::{Path, PathBuf};

/// Every `.proto` under `bakylau/`, so a service adds its own event file without editing
/// a shared list.
fn protos(dir: &Path, found: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            protos(&path, found)?;
        } else if path.extension().is_some_and(|e| e == "proto") {
            found.push(path);
        }
    }
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // A vendored protoc, so a fresh machine builds without the OS package.
    let protoc = protoc_bin_vendored::protoc_bin_path()?;
    // SAFETY: build scripts are single-threaded at this point.
    unsafe { std::env::set_var("PROTOC", protoc) };
    let include = protoc_bin_vendored::include_path()?;
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    // Type names let an event carry its protobuf full name in the envelope.
    let mut files = Vec::new();
    protos(Path::new("bakylau"), &mut files)?;
    files.sort();
    let mut config = prost_build::Config::new();
    config.enable_type_names();
    tonic_prost_build::configure()
        .file_descriptor_set_path(out.join("bakylau_descriptor.bin"))
        .compile_with_config(config, &files, &[PathBuf::from("."), include])?;
    println!("cargo:rerun-if-changed=bakylau");
    Ok(())
}
