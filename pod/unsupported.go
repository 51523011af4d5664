package pod

import (
	"reflect"
	"slices"
)

// unsupported lists, per type, the fields Kubernetes has (core/v1 as of
// 1.34) that sandbox does not implement yet. Decode reports them as warnings
// instead of unknown-field errors, so a manifest written for Kubernetes still
// runs and the user sees what was ignored; the supervisor's --strict turns
// them into errors. When a field gets implemented, move it into the type.
var unsupported = map[reflect.Type][]string{
	reflect.TypeFor[Pod](): {"status"},
	reflect.TypeFor[ObjectMeta](): {
		"namespace", "uid", "generateName", "resourceVersion", "generation",
		"creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds",
		"ownerReferences", "finalizers", "managedFields", "selfLink",
	},
	reflect.TypeFor[PodSpec](): {
		"volumes", "ephemeralContainers", "activeDeadlineSeconds", "dnsPolicy",
		"dnsConfig", "nodeSelector", "serviceAccountName", "serviceAccount",
		"automountServiceAccountToken", "nodeName", "hostNetwork", "hostPID",
		"hostIPC", "securityContext", "imagePullSecrets", "subdomain",
		"setHostnameAsFQDN", "hostnameOverride", "affinity", "schedulerName",
		"tolerations", "hostAliases", "priorityClassName", "priority",
		"readinessGates", "runtimeClassName", "enableServiceLinks",
		"preemptionPolicy", "overhead", "topologySpreadConstraints", "os",
		"schedulingGates", "resourceClaims", "resources",
	},
	reflect.TypeFor[Container](): {
		"ports", "resources", "resizePolicy", "restartPolicy",
		"restartPolicyRules", "volumeMounts", "volumeDevices", "envFrom",
		"livenessProbe", "readinessProbe", "startupProbe", "lifecycle",
		"terminationMessagePath", "terminationMessagePolicy",
		"imagePullPolicy", "securityContext", "stdin", "stdinOnce", "tty",
	},
	reflect.TypeFor[EnvVar](): {"valueFrom"},
}

func isUnsupported(t reflect.Type, field string) bool {
	return slices.Contains(unsupported[t], field)
}
