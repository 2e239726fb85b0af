#!/usr/bin/env bash
# Creates, in the rig's emulator, the infrastructure the quick start deploys into: the ECS
# cluster `shop` with a service `web` running a first task definition, and the EKS cluster
# `shop-eks` (an empty Kubernetes on the rig's test server). berth updates services and
# applies manifests; it does not create clusters, so a real account would have these from
# Terraform, CloudFormation or the console. Idempotent.
set -euo pipefail
if ! aws eks describe-cluster --name shop-eks >/dev/null 2>&1; then
  aws eks create-cluster --name shop-eks --role-arn arn:aws:iam::123456789012:role/shop-eks \
    --resources-vpc-config subnetIds=subnet-0shop >/dev/null
  echo "rig: seeded EKS cluster shop-eks" >&2
fi
if aws ecs describe-services --cluster shop --services web --query 'services[0].status' --output text 2>/dev/null | grep -q ACTIVE; then
  exit 0
fi
aws ecs create-cluster --cluster-name shop >/dev/null
aws ecs register-task-definition --family shop-web --cpu 256 --memory 512 \
  --requires-compatibilities FARGATE --network-mode awsvpc \
  --container-definitions '[{"name":"web","image":"busybox:stable","essential":true,"portMappings":[{"containerPort":8080}]}]' >/dev/null
aws ecs create-service --cluster shop --service-name web --task-definition shop-web:1 --desired-count 2 \
  --deployment-configuration 'deploymentCircuitBreaker={enable=true,rollback=true},maximumPercent=200,minimumHealthyPercent=100' >/dev/null
echo "rig: seeded ECS cluster shop with service web (shop-web:1)" >&2
