// otelcol-checkout: the reference OpenTelemetry Collector that checkout-otel's
// tests run deploy/otel-collector-config.yaml with. In the shape of the
// OpenTelemetry Collector Builder's main.go. Test tooling only: the crate
// itself never needs Go. Build it with tools/otelcol/build.sh.

package main

import (
	"log"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	envprovider "go.opentelemetry.io/collector/confmap/provider/envprovider"
	fileprovider "go.opentelemetry.io/collector/confmap/provider/fileprovider"
	yamlprovider "go.opentelemetry.io/collector/confmap/provider/yamlprovider"
	"go.opentelemetry.io/collector/otelcol"
)

func main() {
	info := component.BuildInfo{
		Command:     "otelcol-checkout",
		Description: "OpenTelemetry Collector for checkout-otel's tests (core " + coreVersion + ", contrib " + contribVersion + ")",
		Version:     coreVersion,
	}

	set := otelcol.CollectorSettings{
		BuildInfo: info,
		Factories: components,
		ConfigProviderSettings: otelcol.ConfigProviderSettings{
			ResolverSettings: confmap.ResolverSettings{
				ProviderFactories: []confmap.ProviderFactory{
					envprovider.NewFactory(),
					fileprovider.NewFactory(),
					yamlprovider.NewFactory(),
				},
			},
		},
	}

	if err := otelcol.NewCommand(set).Execute(); err != nil {
		log.Fatal(err)
	}
}
