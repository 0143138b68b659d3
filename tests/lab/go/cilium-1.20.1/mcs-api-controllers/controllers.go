// Package controllers declares the one identifier of sigs.k8s.io/mcs-api/controllers
// that Cilium 1.20.1 uses (operator/pkg/gateway-api/helpers and
// pkg/clustermesh/mcsapi): the annotation naming a ServiceImport's derived Service.
// The value is upstream's (mcs-api controllers/common.go, v0.5.0 through v0.5.2).
package controllers

// DerivedServiceAnnotation is set on a ServiceImport to name the derived Service.
const DerivedServiceAnnotation = "multicluster.kubernetes.io/derived-service"
