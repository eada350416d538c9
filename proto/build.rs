use std::path::PathBuf;

const PROTOS: &[&str] = &[
    "bakylau/events/v1/events.proto",
    "bakylau/intake/v1/intake.proto",
    "bakylau/routing/v1/routing.proto",
    "bakylau/control/v1/control.proto",
    "bakylau/reception/v1/reception.proto",
    "bakylau/reporting/v1/reporting.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // A vendored protoc, so a fresh machine builds without the OS package.
    let protoc = protoc_bin_vendored::protoc_bin_path()?;
    // SAFETY: build scripts are single-threaded at this point.
    unsafe { std::env::set_var("PROTOC", protoc) };
    let include = protoc_bin_vendored::include_path()?;
    let include = include.to_str().ok_or("protoc include path is not UTF-8")?;
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    // Type names let an event carry its protobuf full name in the envelope.
    let mut config = prost_build::Config::new();
    config.enable_type_names();
    tonic_prost_build::configure()
        .file_descriptor_set_path(out.join("bakylau_descriptor.bin"))
        .compile_with_config(config, PROTOS, &[".", include])?;
    println!("cargo:rerun-if-changed=bakylau");
    Ok(())
}
