package pod

import (
	"reflect"
	"slices"
	"sync"
)

// unsupported lists, per type, the fields Kubernetes has (core/v1 as of
// 1.34) that sandbox does not implement yet. Decode reports them as warnings
// instead of unknown-field errors, so a manifest written for Kubernetes still
// runs and the user sees what was ignored; the supervisor's --strict turns
// them into errors. When a field gets implemented, move it into the type.
// Built on first use: only decoding needs it, not every start of the binary.
var unsupported = sync.OnceValue(func() map[reflect.Type][]string {
	return map[reflect.Type][]string{
		reflect.TypeFor[Pod](): {"status"},
		reflect.TypeFor[ObjectMeta](): {
			"namespace", "uid", "generateName", "resourceVersion", "generation",
			"creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds",
			"ownerReferences", "finalizers", "managedFields", "selfLink",
		},
		reflect.TypeFor[PodSpec](): {
			"ephemeralContainers", "activeDeadlineSeconds", "nodeSelector", "serviceAccountName", "serviceAccount",
			"automountServiceAccountToken", "nodeName", "hostPID",
			"hostIPC", "imagePullSecrets", "subdomain",
			"setHostnameAsFQDN", "hostnameOverride", "affinity", "schedulerName",
			"tolerations", "priorityClassName", "priority",
			"readinessGates", "runtimeClassName", "enableServiceLinks",
			"preemptionPolicy", "overhead", "topologySpreadConstraints", "os",
			"schedulingGates", "resourceClaims", "resources",
		},
		reflect.TypeFor[Container](): {
			"resizePolicy", "restartPolicy",
			"restartPolicyRules", "volumeDevices", "envFrom",
			"livenessProbe", "readinessProbe", "startupProbe",
			"terminationMessagePath", "terminationMessagePolicy",
			"stdin", "stdinOnce", "tty",
		},
		reflect.TypeFor[ResourceRequirements](): {"claims"},
		// Volume sources other than emptyDir and hostPath: a volume with only one
		// of them is refused by Validate (its mounts could not be honoured).
		reflect.TypeFor[Volume](): {
			"secret", "configMap", "persistentVolumeClaim", "projected", "downwardAPI", "nfs", "iscsi",
			"ephemeral", "csi", "image", "gitRepo", "glusterfs", "rbd", "cephfs", "fc", "flexVolume",
			"awsElasticBlockStore", "gcePersistentDisk", "azureDisk", "azureFile", "cinder", "flocker",
			"vsphereVolume", "quobyte", "photonPersistentDisk", "portworxVolume", "scaleIO", "storageos",
		},
		reflect.TypeFor[VolumeMount]():     {"mountPropagation", "subPathExpr", "recursiveReadOnly"},
		reflect.TypeFor[SecurityContext](): {"seLinuxOptions", "windowsOptions", "procMount", "appArmorProfile"},
		reflect.TypeFor[PodSecurityContext](): {
			"seLinuxOptions", "windowsOptions", "fsGroup", "fsGroupChangePolicy", "sysctls",
			"supplementalGroupsPolicy", "appArmorProfile", "seLinuxChangePolicy",
		},
		reflect.TypeFor[EnvVar](): {"valueFrom"},
		// Hooks other than exec and sleep (lifecycle.go).
		reflect.TypeFor[Lifecycle]():        {"stopSignal"},
		reflect.TypeFor[LifecycleHandler](): {"httpGet", "tcpSocket"},
	}
})

func isUnsupported(t reflect.Type, field string) bool {
	return slices.Contains(unsupported()[t], field)
}
